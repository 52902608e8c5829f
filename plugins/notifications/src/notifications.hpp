#pragma once
// notification-worker: reacts to order-flow events with one email/SMS per (order, type, channel).
// The reactor inserts the notifications_sends row and, in the same transaction, sends the durable
// command DeliverNotification (outbox). Its handler sends with a stable Message-ID and records the
// outcome in its own transaction: a send is at-least-once (a crash between the send and the
// commit sends again with the same Message-ID, so the receiver can dedupe) and never lost.

#include <plexus/sdk/money.hpp>
#include <plexus/sdk/plugin.hpp>
#include <plexus/sdk/rfc3339.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace notifications {

// ---- pure helpers ----

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
  std::string provider;    // "smtp", "none", "sandbox-sms"
  std::string reference;   // provider message id, if any
  std::string error;       // when !ok
  bool transient = false;  // when !ok: worth another attempt (network, timeout, SMTP 4xx)
};

// The idempotency key of one notification, the same on every attempt: the email's Message-ID
// header ("<notificationId@plexus.notifications>") and the SMS reference.
std::string messageIdFor(const std::string& notificationId);

class EmailSender {
 public:
  virtual ~EmailSender() = default;
  virtual SendOutcome send(const std::string& to, const std::string& subject,
                           const std::string& body, const std::string& messageId) = 0;
};

class SmsSender {
 public:
  virtual ~SmsSender() = default;
  virtual SendOutcome send(const std::string& to, const std::string& text,
                           const std::string& reference) = 0;
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
  SendOutcome send(const std::string& to, const std::string& subject, const std::string& body,
                   const std::string& messageId) override;

 private:
  SmtpConfig cfg_;
};

// No SMTP configured: the email is recorded only (marked Sent with provider "none").
class RecordOnlyEmailSender final : public EmailSender {
 public:
  SendOutcome send(const std::string&, const std::string&, const std::string&,
                   const std::string& messageId) override {
    return {true, "none", messageId, {}};
  }
};

// The sandbox SMS provider: accepts every message (the text is kept in notifications_sends).
class SandboxSmsSender final : public SmsSender {
 public:
  SendOutcome send(const std::string& to, const std::string& text,
                   const std::string& reference) override;
};

// ---- components ----

// Reacts to OrderCreated, PaymentProcessed, ShipmentCreated, OrderCancelled: inserts the
// notifications_sends row (Pending) and sends DeliverNotification in the same transaction.
// Config: contact_wait_attempts (5): how many deliveries an event may wait for its OrderCreated.
class NotificationReactor final : public plexus::Receptor {
 public:
  explicit NotificationReactor(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& event) override;

 private:
  uint32_t contactWaitAttempts_;
};

// notifications_sent_total / notifications_failed_total {channel, type}.
struct OutcomeMetrics {
  explicit OutcomeMetrics(plexus::Host& host);
  plexus::Metric sent;
  plexus::Metric failed;
};

// One attempt's outcome, recorded in the caller's transaction: an attempts row; the send marked
// Sent/Failed (only while Pending) with NotificationSent and the metrics on a change. `final`
// false keeps the send Pending (a transient failure that will be tried again).
struct AttemptRecord {
  std::string attemptId, notificationId, orderId, type, channel, outcome, provider, reference,
      error;
  int64_t attemptedAtMs = 0;
  bool final = true;
};
void recordAttempt(plexus::Context& ctx, OutcomeMetrics& metrics, const AttemptRecord& r);

// The command DeliverNotification {notificationId, orderId} (stream orderId): if the send is
// still Pending, sends it with its Message-ID and records the outcome in this transaction. A
// transient failure is recorded and retried by a scheduled DeliverNotification (backoff) until
// send_max_attempts, then the send is Failed.
// Config: smtp {host, port (25), from, timeout_ms (10000)} (absent: record only);
// send_max_attempts (5); send_retry_initial_ms (1000, doubling, capped at 60000).
class DeliverNotification final : public plexus::Receptor {
 public:
  explicit DeliverNotification(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& cmd) override;
  // Tests swap the providers for fakes (call before handling messages).
  void setSenders(std::shared_ptr<EmailSender> email, std::shared_ptr<SmsSender> sms);

 private:
  OutcomeMetrics metrics_;
  int64_t maxAttempts_;
  int64_t retryInitialMs_;
  std::mutex mu_;
  std::shared_ptr<EmailSender> email_;
  std::shared_ptr<SmsSender> sms_;
};

// The command RecordNotification {notificationId, orderId, notificationType, channel, outcome
// (Sent|Failed), provider, reference?, error?, attemptedAtMs?}: how outcomes travelled before
// DeliverNotification; kept so that commands already queued by an older version are recorded.
class RecordNotification final : public plexus::Receptor {
 public:
  explicit RecordNotification(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& cmd) override;

 private:
  OutcomeMetrics metrics_;
};

}  // namespace notifications
