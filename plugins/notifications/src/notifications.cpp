#include "notifications.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include <algorithm>
#include <cstdio>

namespace notifications {

using plexus::Json;

namespace {

std::string text(const Json& e, const char* key) {
  return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : std::string();
}

std::string money(const Json& e, const char* key) {
  if (!e.contains(key)) return "?";
  int64_t cents = 0;
  try {
    cents = plexus::money::nonNegativeFromJson(e[key]);
  } catch (const plexus::money::MoneyError&) {
    return "?";
  }
  const std::string currency = text(e, "currency");
  return plexus::money::format(cents) + " " + (currency.empty() ? std::string("USD") : currency);
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

std::string messageIdFor(const std::string& notificationId) {
  return "<" + notificationId + "@plexus.notifications>";
}

SendOutcome SmtpEmailSender::send(const std::string& to, const std::string& subject,
                                  const std::string& body, const std::string& messageId) {
  if (!safeAddress(to)) return {false, "smtp", {}, "invalid email address", false};
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
    // The same on every attempt: a resend after a crash is recognisable as the same message.
    if (!messageId.empty()) mail.set("Message-ID", messageId);
    mail.setContentType("text/plain; charset=UTF-8");
    mail.setContent(body, Poco::Net::MailMessage::ENCODING_8BIT);
    session.sendMessage(mail);
    session.close();  // QUIT
    return {true, "smtp", messageId, {}, false};
  } catch (const Poco::Net::SMTPException& e) {
    // The server answered: 4xx asks us to try again later, 5xx refuses for good.
    const int code = e.code();
    return {false, "smtp", {}, e.displayText(), code >= 400 && code < 500};
  } catch (const Poco::Exception& e) {
    return {false, "smtp", {}, e.displayText(), true};  // network, timeout, refused connection
  } catch (const std::exception& e) {
    return {false, "smtp", {}, e.what(), true};
  }
}

SendOutcome SandboxSmsSender::send(const std::string& to, const std::string& text,
                                   const std::string& reference) {
  bool digit = false;
  for (char c : to) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '+' && c != '-' && c != ' ' && c != '(' && c != ')') {
      return {false, "sandbox-sms", {}, "invalid phone number", false};
    }
  }
  if (!digit || text.empty())
    return {false, "sandbox-sms", {}, "invalid phone number or empty text", false};
  return {true, "sandbox-sms", reference, {}, false};
}

// ---- NotificationReactor ----

NotificationReactor::NotificationReactor(plexus::Host& host)
    : contactWaitAttempts_(
          static_cast<uint32_t>(configInt(host.config(), "contact_wait_attempts", 5, 1, 100))) {}

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

  // One send per (order, type, channel): only the call that inserts the row asks for delivery,
  // and it asks through the outbox, so the request commits with the row or not at all.
  const std::string notificationId = ctx.newId();
  const int64_t now = ctx.nowMs();
  const int64_t inserted = ctx.exec(
      "INSERT INTO notifications_sends (notification_id, order_id, type, channel, recipient, "
      "subject, body, status, attempts, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, "
      "$6, $7, 'Pending', 0, $8, $9) ON CONFLICT (order_id, type, channel) DO NOTHING",
      notificationId, orderId, n->type, n->channel, recipient, n->subject, n->body, now, now);
  if (inserted == 0) return plexus::ok();
  ctx.send("DeliverNotification", Json{{"notificationId", notificationId}, {"orderId", orderId}},
           orderId);
  return plexus::ok(Json{
      {"notificationId", notificationId}, {"notificationType", n->type}, {"channel", n->channel}}
                        .dump());
}

// ---- recording an attempt (shared by DeliverNotification and RecordNotification) ----

OutcomeMetrics::OutcomeMetrics(plexus::Host& host)
    : sent(host.counter("notifications_sent_total", "Notifications sent, by channel and type.",
                        {"channel", "type"})),
      failed(host.counter("notifications_failed_total",
                          "Notification sends that failed, by channel and type.",
                          {"channel", "type"})) {}

void recordAttempt(plexus::Context& ctx, OutcomeMetrics& metrics, const AttemptRecord& r) {
  ctx.exec(
      "INSERT INTO notifications_attempts (attempt_id, notification_id, order_id, channel, "
      "outcome, provider, reference, error, attempted_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, "
      "$8, $9) ON CONFLICT (attempt_id) DO NOTHING",
      r.attemptId, r.notificationId, r.orderId, r.channel, r.outcome, r.provider, r.reference,
      r.error, r.attemptedAtMs);
  const bool sent = r.outcome == "Sent";
  const plexus::Value error = r.error.empty() ? plexus::Value() : plexus::Value(r.error);
  if (!r.final) {
    // A transient failure: counted, the send stays Pending for the next attempt.
    ctx.exec(
        "UPDATE notifications_sends SET attempts = attempts + 1, provider = $1, last_error = $2, "
        "updated_at_ms = $3 WHERE notification_id = $4 AND status = 'Pending'",
        r.provider, error, ctx.nowMs(), r.notificationId);
    return;
  }
  const int64_t updated = ctx.exec(
      "UPDATE notifications_sends SET status = $1, attempts = attempts + 1, provider = $2, "
      "last_error = $3, sent_at_ms = $4, updated_at_ms = $5 WHERE notification_id = $6 AND "
      "status = 'Pending'",
      r.outcome, r.provider, error, sent ? plexus::Value(r.attemptedAtMs) : plexus::Value(),
      ctx.nowMs(), r.notificationId);
  if (updated == 0) {
    ctx.log(plexus::LogLevel::Info,
            "notification " + r.notificationId + " already recorded or unknown: nothing to change");
    return;
  }
  const std::string channel = r.channel, type = r.type;
  if (sent) {
    ctx.emit("NotificationSent",
             Json{{"notificationId", r.notificationId},
                  {"orderId", r.orderId},
                  {"notificationType", type},
                  {"channel", channel},
                  {"sentAt", plexus::rfc3339::format(r.attemptedAtMs)}},
             r.orderId);
    ctx.afterCommit([&metrics, channel, type] { metrics.sent.increment({channel, type}); });
  } else {
    ctx.log(plexus::LogLevel::Warn, "notification " + r.notificationId + " (" + type + " by " +
                                        channel + ") failed: " + r.error);
    ctx.afterCommit([&metrics, channel, type] { metrics.failed.increment({channel, type}); });
  }
}

// ---- DeliverNotification ----

DeliverNotification::DeliverNotification(plexus::Host& host) : metrics_(host) {
  const Json cfg = host.config();
  maxAttempts_ = configInt(cfg, "send_max_attempts", 5, 1, 100);
  retryInitialMs_ = configInt(cfg, "send_retry_initial_ms", 1000, 1, 3600000);
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

void DeliverNotification::setSenders(std::shared_ptr<EmailSender> email,
                                     std::shared_ptr<SmsSender> sms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (email) email_ = std::move(email);
  if (sms) sms_ = std::move(sms);
}

plexus::Result DeliverNotification::handle(plexus::Context& ctx, const plexus::Message& cmd) {
  const Json c = cmd.json();
  if (!c.is_object() || text(c, "notificationId").empty() || text(c, "orderId").empty()) {
    return plexus::reject("DeliverNotification: notificationId and orderId are required");
  }
  const std::string notificationId = text(c, "notificationId");
  const auto rows = ctx.sql(
      "SELECT order_id, type, channel, recipient, subject, body, status, attempts FROM "
      "notifications_sends WHERE notification_id = $1",
      notificationId);
  // The row commits with the command that names it, so a missing row is a foreign command.
  if (rows.empty())
    return plexus::reject("DeliverNotification: unknown notification " + notificationId);
  const plexus::Row& row = rows.front();
  const std::string status = row.at(6).asText();
  if (status != "Pending") {
    // Dedupe: a redelivered or stale command after the outcome was recorded sends nothing.
    ctx.log(plexus::LogLevel::Info,
            "notification " + notificationId + " already " + status + ": not sent again");
    return plexus::ok();
  }
  const std::string orderId = row.at(0).asText();
  const std::string type = row.at(1).asText();
  const std::string channel = row.at(2).asText();
  const std::string recipient = row.at(3).asText();
  const int64_t attemptsBefore = row.at(7).asInt();

  std::shared_ptr<EmailSender> email;
  std::shared_ptr<SmsSender> sms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    email = email_;
    sms = sms_;
  }
  // Sent inside the transaction: a crash before the commit redelivers this command and sends
  // again with the same Message-ID (at-least-once; the receiver dedupes by Message-ID).
  const std::string messageId = messageIdFor(notificationId);
  SendOutcome o;
  try {
    o = channel == "email"
            ? email->send(recipient, row.at(4).asText(), row.at(5).asText(), messageId)
            : sms->send(recipient, row.at(5).asText(), notificationId);
  } catch (const std::exception& ex) {
    o = SendOutcome{false, channel, {}, ex.what(), true};
  }
  AttemptRecord r;
  r.attemptId = ctx.newId();
  r.notificationId = notificationId;
  r.orderId = orderId;
  r.type = type;
  r.channel = channel;
  r.outcome = o.ok ? "Sent" : "Failed";
  r.provider = o.provider;
  r.reference = o.reference;
  r.error = o.error;
  r.attemptedAtMs = ctx.nowMs();
  const int64_t attempt = attemptsBefore + 1;
  r.final = o.ok || !o.transient || attempt >= maxAttempts_;
  recordAttempt(ctx, metrics_, r);
  if (!r.final) {
    // Counted on the row, so the bound holds across redeliveries; the retry is durable.
    const int shift = static_cast<int>(std::min<int64_t>(attempt - 1, 20));
    const int64_t delay = std::min<int64_t>(retryInitialMs_ << shift, 60000);
    ctx.schedule("DeliverNotification",
                 Json{{"notificationId", notificationId}, {"orderId", orderId}},
                 ctx.nowMs() + delay, orderId);
    ctx.log(plexus::LogLevel::Warn, "notification " + notificationId + " attempt " +
                                        std::to_string(attempt) + " failed (" + o.error +
                                        "): retrying in " + std::to_string(delay) + " ms");
  }
  return plexus::ok();
}

// ---- RecordNotification ----

RecordNotification::RecordNotification(plexus::Host& host) : metrics_(host) {}

plexus::Result RecordNotification::handle(plexus::Context& ctx, const plexus::Message& cmd) {
  const Json c = cmd.json();
  if (!c.is_object()) return plexus::reject("RecordNotification: payload must be an object");
  AttemptRecord r;
  r.notificationId = text(c, "notificationId");
  r.orderId = text(c, "orderId");
  r.type = text(c, "notificationType");
  r.channel = text(c, "channel");
  r.outcome = text(c, "outcome");
  if (r.notificationId.empty() || r.orderId.empty()) {
    return plexus::reject("RecordNotification: notificationId and orderId are required");
  }
  if (!oneOf(r.type, {"OrderConfirmation", "PaymentReceipt", "ShipmentNotification",
                      "OrderCancellation"}) ||
      !oneOf(r.channel, {"email", "sms"}) || !oneOf(r.outcome, {"Sent", "Failed"})) {
    return plexus::reject("RecordNotification: unknown notificationType, channel or outcome");
  }
  r.attemptedAtMs = c.contains("attemptedAtMs") && c["attemptedAtMs"].is_number_integer()
                        ? c["attemptedAtMs"].get<int64_t>()
                        : ctx.nowMs();
  r.attemptId = std::string(cmd.id());  // a redelivered command records its attempt once
  r.provider = text(c, "provider");
  r.reference = text(c, "reference");
  r.error = text(c, "error");
  recordAttempt(ctx, metrics_, r);
  return plexus::ok();
}

}  // namespace notifications
