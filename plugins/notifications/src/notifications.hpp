#pragma once
// notification-worker: reacts to order-flow events with one email/SMS per (order, type, channel),
// sent after commit; the outcome comes back as the RecordNotification command.

#include <plexus/sdk/plugin.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace notifications {

// ---- pure helpers ----

std::string formatRfc3339(int64_t unixMs);
// A JSON money amount (number, >= 0, at most 2 decimals) -> cents; nullopt otherwise.
std::optional<int64_t> parseMoneyCents(const plexus::Json& amount);
// 8997 -> "89.97".
std::string formatCents(int64_t cents);

// What to send for one event: type, channel and the message text.
struct Notification {
  std::string
      type;  // OrderConfirmation | PaymentReceipt | ShipmentNotification | OrderCancellation
  std::string channel;  // email | sms
  std::string subject;  // email only
  std::string body;
};
// The notification an event asks for (nullopt for event types this service ignores).
std::optional<Notification> notificationFor(const std::string& eventType,
                                            const plexus::Json& event);

// ---- senders (small interfaces so tests use fakes) ----

struct SendOutcome {
  bool ok = false;
  std::string provider;   // "smtp", "none", "sandbox-sms"
  std::string reference;  // provider message id, if any
  std::string error;      // when !ok
};

class EmailSender {
 public:
  virtual ~EmailSender() = default;
  virtual SendOutcome send(const std::string& to, const std::string& subject,
                           const std::string& body) = 0;
};

class SmsSender {
 public:
  virtual ~SmsSender() = default;
  virtual SendOutcome send(const std::string& to, const std::string& text) = 0;
};

struct SmtpConfig {
  std::string host;
  uint16_t port = 25;
  std::string from = "no-reply@ecommerce.example";
  int64_t timeoutMs = 10000;
};

// Sends through SMTP (Poco::Net::SMTPClientSession): EHLO/HELO, MAIL, RCPT, DATA, QUIT.
class SmtpEmailSender final : public EmailSender {
 public:
  explicit SmtpEmailSender(SmtpConfig cfg) : cfg_(std::move(cfg)) {}
  SendOutcome send(const std::string& to, const std::string& subject,
                   const std::string& body) override;

 private:
  SmtpConfig cfg_;
};

// No SMTP configured: the email is recorded only (marked Sent with provider "none").
class RecordOnlyEmailSender final : public EmailSender {
 public:
  SendOutcome send(const std::string&, const std::string&, const std::string&) override {
    return {true, "none", {}, {}};
  }
};

// The sandbox SMS provider: accepts every message (the text is kept in notifications_sends).
class SandboxSmsSender final : public SmsSender {
 public:
  SendOutcome send(const std::string& to, const std::string& text) override;
};

// ---- components ----

// Reacts to OrderCreated, PaymentProcessed, ShipmentCreated, OrderCancelled.
// Config: smtp {host, port (25), from, timeout_ms (10000)} (absent: record only);
// contact_wait_attempts (5): how many deliveries an event may wait for its OrderCreated.
class NotificationReactor final : public plexus::Receptor {
 public:
  explicit NotificationReactor(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& event) override;
  // Tests swap the providers for fakes (call before handling messages).
  void setSenders(std::shared_ptr<EmailSender> email, std::shared_ptr<SmsSender> sms);

 private:
  void deliver(const std::string& notificationId, const std::string& orderId, const Notification& n,
               const std::string& recipient);

  plexus::Host& host_;
  uint32_t contactWaitAttempts_;
  std::mutex mu_;
  std::shared_ptr<EmailSender> email_;
  std::shared_ptr<SmsSender> sms_;
};

// The command RecordNotification {notificationId, orderId, notificationType, channel, outcome
// (Sent|Failed), provider, reference?, error?, attemptedAt}: records the attempt, marks the send
// and emits NotificationSent on success.
class RecordNotification final : public plexus::Receptor {
 public:
  explicit RecordNotification(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& cmd) override;

 private:
  plexus::Metric sent_;    // notifications_sent_total{channel,type}
  plexus::Metric failed_;  // notifications_failed_total{channel,type}
};

}  // namespace notifications
