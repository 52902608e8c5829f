#include "notifications.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include <cmath>
#include <cstdio>

namespace notifications {

using plexus::Json;

namespace {

constexpr int64_t kDayMs = 86400000;

void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

std::string text(const Json& e, const char* key) {
  return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : std::string();
}

std::string money(const Json& e, const char* key) {
  if (!e.contains(key)) return "?";
  const auto cents = parseMoneyCents(e[key]);
  if (!cents) return "?";
  const std::string currency = text(e, "currency");
  return formatCents(*cents) + " " + (currency.empty() ? std::string("USD") : currency);
}

bool oneOf(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed) {
    if (v == a) return true;
  }
  return false;
}

// A recipient must not smuggle SMTP commands or headers in.
bool safeAddress(const std::string& s) {
  if (s.empty() || s.size() > 254 || s.find('@') == std::string::npos) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == 0x7f) return false;
  }
  return true;
}

// Numbers in config may arrive as strings after ${VAR} expansion.
int64_t configInt(const Json& cfg, const char* key, int64_t def, int64_t min, int64_t max) {
  if (!cfg.contains(key)) return def;
  int64_t v = 0;
  if (cfg[key].is_number_integer()) {
    v = cfg[key].get<int64_t>();
  } else if (cfg[key].is_string()) {
    try {
      size_t used = 0;
      const std::string s = cfg[key].get<std::string>();
      v = std::stoll(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      throw std::invalid_argument(std::string("config ") + key + " must be an integer");
    }
  } else {
    throw std::invalid_argument(std::string("config ") + key + " must be an integer");
  }
  if (v < min || v > max) {
    throw std::invalid_argument(std::string("config ") + key + " must be " + std::to_string(min) +
                                "-" + std::to_string(max));
  }
  return v;
}

}  // namespace

std::string formatRfc3339(int64_t unixMs) {
  int64_t days = unixMs / kDayMs;
  int64_t rem = unixMs % kDayMs;
  if (rem < 0) {
    rem += kDayMs;
    --days;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civilFromDays(days, y, m, d);
  const int64_t secs = rem / 1000;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
                static_cast<long long>(rem % 1000));
  return buf;
}

std::optional<int64_t> parseMoneyCents(const Json& amount) {
  if (amount.is_number_integer()) {
    const int64_t v = amount.get<int64_t>();
    if (v < 0 || v > 100000000000LL) return std::nullopt;
    return v * 100;
  }
  if (!amount.is_number_float()) return std::nullopt;
  const double v = amount.get<double>();
  if (!std::isfinite(v) || v < 0 || v > 100000000000.0) return std::nullopt;
  const double scaled = v * 100.0;
  const double rounded = std::round(scaled);
  if (std::fabs(scaled - rounded) > 1e-6) return std::nullopt;
  return static_cast<int64_t>(rounded);
}

std::string formatCents(int64_t cents) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

std::optional<Notification> notificationFor(const std::string& eventType, const Json& e) {
  const std::string orderId = text(e, "orderId");
  if (eventType == "OrderCreated") {
    const size_t items = e.contains("items") && e["items"].is_array() ? e["items"].size() : 0;
    return Notification{"OrderConfirmation", "email", "Order confirmation " + orderId,
                        "Thank you for your order " + orderId +
                            ".\r\nItems: " + std::to_string(items) +
                            "\r\nTotal: " + money(e, "totalAmount") + "\r\n"};
  }
  if (eventType == "PaymentProcessed") {
    return Notification{"PaymentReceipt", "email", "Payment receipt for order " + orderId,
                        "We received your payment of " + money(e, "amount") + " for order " +
                            orderId + ".\r\nPayment: " + text(e, "paymentId") +
                            "\r\nTransaction: " + text(e, "transactionId") + "\r\n"};
  }
  if (eventType == "ShipmentCreated") {
    return Notification{"ShipmentNotification", "sms", "",
                        "Your order " + orderId + " has shipped with " + text(e, "carrier") +
                            ". Tracking number " + text(e, "trackingNumber") +
                            ", estimated delivery " + text(e, "estimatedDelivery") + "."};
  }
  if (eventType == "OrderCancelled") {
    return Notification{
        "OrderCancellation", "email", "Order " + orderId + " cancelled",
        "Your order " + orderId + " was cancelled.\r\nReason: " + text(e, "reason") + "\r\n"};
  }
  return std::nullopt;
}

// ---- senders ----

SendOutcome SmtpEmailSender::send(const std::string& to, const std::string& subject,
                                  const std::string& body) {
  if (!safeAddress(to)) return {false, "smtp", {}, "invalid email address"};
  try {
    const Poco::Timespan timeout(cfg_.timeoutMs * 1000);
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress(cfg_.host, cfg_.port), timeout);
    Poco::Net::SMTPClientSession session(socket);
    session.setTimeout(timeout);
    session.login();  // EHLO, falling back to HELO
    Poco::Net::MailMessage mail;
    mail.setSender(cfg_.from);
    mail.addRecipient(Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, to));
    mail.setSubject(Poco::Net::MailMessage::encodeWord(subject, "UTF-8"));
    mail.setContentType("text/plain; charset=UTF-8");
    mail.setContent(body, Poco::Net::MailMessage::ENCODING_8BIT);
    session.sendMessage(mail);
    session.close();  // QUIT
    return {true, "smtp", {}, {}};
  } catch (const Poco::Exception& e) {
    return {false, "smtp", {}, e.displayText()};
  } catch (const std::exception& e) {
    return {false, "smtp", {}, e.what()};
  }
}

SendOutcome SandboxSmsSender::send(const std::string& to, const std::string& text) {
  bool digit = false;
  for (char c : to) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '+' && c != '-' && c != ' ' && c != '(' && c != ')') {
      return {false, "sandbox-sms", {}, "invalid phone number"};
    }
  }
  if (!digit || text.empty())
    return {false, "sandbox-sms", {}, "invalid phone number or empty text"};
  return {true, "sandbox-sms", {}, {}};
}

// ---- NotificationReactor ----

NotificationReactor::NotificationReactor(plexus::Host& host) : host_(host) {
  const Json cfg = host.config();
  contactWaitAttempts_ = static_cast<uint32_t>(configInt(cfg, "contact_wait_attempts", 5, 1, 100));
  if (cfg.contains("smtp") && !cfg["smtp"].is_null()) {
    const Json& s = cfg["smtp"];
    if (!s.is_object()) throw std::invalid_argument("config smtp must be an object");
    SmtpConfig smtp;
    smtp.host = s.value("host", std::string());
    smtp.port = static_cast<uint16_t>(configInt(s, "port", 25, 1, 65535));
    smtp.from = s.value("from", smtp.from);
    smtp.timeoutMs = configInt(s, "timeout_ms", smtp.timeoutMs, 1, 600000);
    if (!safeAddress(smtp.from))
      throw std::invalid_argument("config smtp.from must be an email address");
    if (!smtp.host.empty()) email_ = std::make_shared<SmtpEmailSender>(smtp);
  }
  if (!email_) email_ = std::make_shared<RecordOnlyEmailSender>();
  sms_ = std::make_shared<SandboxSmsSender>();
}

void NotificationReactor::setSenders(std::shared_ptr<EmailSender> email,
                                     std::shared_ptr<SmsSender> sms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (email) email_ = std::move(email);
  if (sms) sms_ = std::move(sms);
}

plexus::Result NotificationReactor::handle(plexus::Context& ctx, const plexus::Message& event) {
  const Json e = event.json();
  const std::string type(event.type());
  if (!e.is_object() || text(e, "orderId").empty()) {
    return plexus::reject(type + ": orderId must be a non-empty string");
  }
  const std::string orderId = text(e, "orderId");
  const auto n = notificationFor(type, e);
  if (!n) return plexus::ok();  // not an event this service reacts to

  std::string recipient;
  if (type == "OrderCreated") {
    const std::string customerId = text(e, "customerId");
    std::string email = text(e, "customerEmail");
    if (email.empty() && !customerId.empty()) email = customerId + "@example.com";
    const std::string phone = text(e, "customerPhone");
    // Later events carry no contact data: keep it for them.
    ctx.exec(
        "INSERT INTO notifications_contacts (order_id, customer_id, email, phone, created_at_ms) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO NOTHING",
        orderId, customerId, email, phone, ctx.nowMs());
    recipient = email;
  } else {
    const auto rows =
        ctx.sql("SELECT email, phone FROM notifications_contacts WHERE order_id = $1", orderId);
    if (rows.empty()) {
      // The OrderCreated may still be on its way: wait for it, but only a bounded number of times.
      if (event.attempt() >= contactWaitAttempts_) {
        ctx.log(plexus::LogLevel::Warn, "no contact for order " + orderId + " after " +
                                            std::to_string(event.attempt()) +
                                            " attempts: " + n->type + " not sent");
        return plexus::ok();
      }
      return plexus::retry("contact for order " + orderId + " not known yet (no OrderCreated)");
    }
    const plexus::Value& v = rows.front().at(n->channel == "email" ? 0 : 1);
    recipient = v.isNull() ? std::string() : v.asText();
  }
  if (recipient.empty()) {
    ctx.log(plexus::LogLevel::Warn,
            "order " + orderId + " has no " + n->channel + " contact: " + n->type + " not sent");
    return plexus::ok();
  }

  // At most one send per (order, type, channel): only the call that inserts the row sends.
  const std::string notificationId = ctx.newId();
  const int64_t now = ctx.nowMs();
  const int64_t inserted = ctx.exec(
      "INSERT INTO notifications_sends (notification_id, order_id, type, channel, recipient, "
      "subject, body, status, attempts, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, "
      "$6, $7, 'Pending', 0, $8, $9) ON CONFLICT (order_id, type, channel) DO NOTHING",
      notificationId, orderId, n->type, n->channel, recipient, n->subject, n->body, now, now);
  if (inserted == 0) return plexus::ok();
  ctx.afterCommit([this, notificationId, orderId, note = *n, recipient] {
    deliver(notificationId, orderId, note, recipient);
  });
  return plexus::ok(Json{
      {"notificationId", notificationId}, {"notificationType", n->type}, {"channel", n->channel}}
                        .dump());
}

void NotificationReactor::deliver(const std::string& notificationId, const std::string& orderId,
                                  const Notification& n, const std::string& recipient) {
  std::shared_ptr<EmailSender> email;
  std::shared_ptr<SmsSender> sms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    email = email_;
    sms = sms_;
  }
  SendOutcome o;
  try {
    o = n.channel == "email" ? email->send(recipient, n.subject, n.body)
                             : sms->send(recipient, n.body);
  } catch (const std::exception& ex) {
    o = SendOutcome{false, n.channel == "email" ? "email" : "sms", {}, ex.what()};
  }
  const int64_t at = host_.nowMs();
  const Json cmd{{"notificationId", notificationId},
                 {"orderId", orderId},
                 {"notificationType", n.type},
                 {"channel", n.channel},
                 {"outcome", o.ok ? "Sent" : "Failed"},
                 {"provider", o.provider},
                 {"reference", o.reference},
                 {"error", o.error},
                 {"attemptedAt", formatRfc3339(at)},
                 {"attemptedAtMs", at}};
  try {
    host_.post("RecordNotification", cmd, orderId);
  } catch (const std::exception& ex) {
    // The send happened; only its record is lost (the row stays Pending). Say so loudly.
    host_.log(plexus::LogLevel::Error, "notification " + notificationId + " for order " + orderId +
                                           " was attempted but not recorded: " + ex.what());
  }
}

// ---- RecordNotification ----

RecordNotification::RecordNotification(plexus::Host& host)
    : sent_(host.counter("notifications_sent_total", "Notifications sent, by channel and type.",
                         {"channel", "type"})),
      failed_(host.counter("notifications_failed_total",
                           "Notification sends that failed, by channel and type.",
                           {"channel", "type"})) {}

plexus::Result RecordNotification::handle(plexus::Context& ctx, const plexus::Message& cmd) {
  const Json c = cmd.json();
  if (!c.is_object()) return plexus::reject("RecordNotification: payload must be an object");
  const std::string notificationId = text(c, "notificationId");
  const std::string orderId = text(c, "orderId");
  const std::string type = text(c, "notificationType");
  const std::string channel = text(c, "channel");
  const std::string outcome = text(c, "outcome");
  if (notificationId.empty() || orderId.empty()) {
    return plexus::reject("RecordNotification: notificationId and orderId are required");
  }
  if (!oneOf(type, {"OrderConfirmation", "PaymentReceipt", "ShipmentNotification",
                    "OrderCancellation"}) ||
      !oneOf(channel, {"email", "sms"}) || !oneOf(outcome, {"Sent", "Failed"})) {
    return plexus::reject("RecordNotification: unknown notificationType, channel or outcome");
  }
  const int64_t at = c.contains("attemptedAtMs") && c["attemptedAtMs"].is_number_integer()
                         ? c["attemptedAtMs"].get<int64_t>()
                         : ctx.nowMs();
  const bool sent = outcome == "Sent";
  const std::string error = text(c, "error");
  ctx.exec(
      "INSERT INTO notifications_attempts (attempt_id, notification_id, order_id, channel, "
      "outcome, "
      "provider, reference, error, attempted_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
      "ON CONFLICT (attempt_id) DO NOTHING",
      std::string(cmd.id()), notificationId, orderId, channel, outcome, text(c, "provider"),
      text(c, "reference"), error, at);
  const int64_t updated = ctx.exec(
      "UPDATE notifications_sends SET status = $1, attempts = attempts + 1, provider = $2, "
      "last_error = $3, sent_at_ms = $4, updated_at_ms = $5 WHERE notification_id = $6 AND "
      "status = 'Pending'",
      outcome, text(c, "provider"), error.empty() ? plexus::Value() : plexus::Value(error),
      sent ? plexus::Value(at) : plexus::Value(), ctx.nowMs(), notificationId);
  if (updated == 0) {
    ctx.log(plexus::LogLevel::Info,
            "notification " + notificationId + " already recorded or unknown: nothing to change");
    return plexus::ok();
  }
  if (sent) {
    ctx.emit("NotificationSent",
             Json{{"notificationId", notificationId},
                  {"orderId", orderId},
                  {"notificationType", type},
                  {"channel", channel},
                  {"sentAt", formatRfc3339(at)}},
             orderId);
    ctx.afterCommit([this, channel, type] { sent_.increment({channel, type}); });
  } else {
    ctx.log(plexus::LogLevel::Warn, "notification " + notificationId + " (" + type + " by " +
                                        channel + ") failed: " + error);
    ctx.afterCommit([this, channel, type] { failed_.increment({channel, type}); });
  }
  return plexus::ok();
}

}  // namespace notifications
