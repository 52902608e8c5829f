#pragma once
// payment-worker: ProcessPayment against a deterministic sandbox gateway behind a circuit
// breaker, and RefundPayment.

#include <plexus/sdk/money.hpp>
#include <plexus/sdk/plugin.hpp>
#include <plexus/sdk/rfc3339.hpp>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace payments {

// ---- SQL (PostgreSQL 15 and SQLite 3.40; tests match these texts) ----
namespace sql {
inline constexpr const char* kSelectPayment =
    "SELECT order_id, payment_id, transaction_id, status, amount_cents, currency, method, "
    "error_code, reason, processed_at, idempotency_key, refund_id, refunded_at, customer_id "
    "FROM payments_payments WHERE order_id = $1";
inline constexpr const char* kInsertPayment =
    "INSERT INTO payments_payments (order_id, payment_id, transaction_id, status, amount_cents, "
    "currency, method, error_code, reason, processed_at, idempotency_key, customer_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (order_id) DO NOTHING";
inline constexpr const char* kMarkRefunded =
    "UPDATE payments_payments SET status = 'Refunded', refund_id = $1, refunded_at = $2, "
    "refund_reason = $3 WHERE order_id = $4 AND status = 'Captured'";
}  // namespace sql

// ---- pure helpers ----
bool validId(std::string_view s);  // 1-64 of [A-Za-z0-9._-]
// A JSON number >= 0 with at most 2 decimals -> cents (89.97 -> 8997), else nullopt.
std::optional<int64_t> parseCents(const plexus::Json& v);
bool validCurrency(std::string_view s);                // three upper-case letters
std::string idempotencyKey(std::string_view orderId);  // "order-{orderId}-payment"

// ---- sandbox gateway (deterministic, no I/O) ----
struct Charge {
  std::string idempotencyKey;
  int64_t amountCents = 0;
  std::string currency;
  std::string method;
  uint32_t attempt = 1;  // delivery attempt of the command (1, 2, 3, ...)
};
struct GatewayResponse {
  enum class Kind { Captured, Declined, Transient, Pending };
  Kind kind = Kind::Captured;
  std::string transactionId;  // Captured only; derived from the idempotency key
  std::string errorCode;      // Declined / Transient
  std::string message;
};
class SandboxGateway {
 public:
  GatewayResponse charge(const Charge& c) const;
};

// ---- circuit breaker (in memory, thread-safe, injected clock) ----
class CircuitBreaker {
 public:
  enum class State { Closed, Open, HalfOpen };
  CircuitBreaker(int failureThreshold, int64_t openMs, std::function<int64_t()> clock);
  // May a call go to the gateway now? Open: no, until openMs passed; then one probe (half-open).
  bool allow();
  void onSuccess();           // gateway answered (captured, declined, pending)
  void onTransientFailure();  // network error
  State state() const;

 private:
  mutable std::mutex mu_;
  const int threshold_;
  const int64_t openMs_;
  std::function<int64_t()> clock_;
  State state_ = State::Closed;
  int failures_ = 0;
  int64_t openedAt_ = 0;
  bool probeInFlight_ = false;
};

// ---- receptors ----

struct PaymentRequest {
  std::string orderId, customerId, currency, method;
  int64_t amountCents = 0;
};
// Validates ProcessPayment; throws plexus::BadRequest (-> REJECT).
PaymentRequest parsePayment(const plexus::Json& body);

// ProcessPayment {orderId, customerId, amount, currency, paymentMethod} -> PaymentProcessed |
// PaymentFailed | (pm_card_pending) nothing. A repeated command re-emits the stored outcome.
class ProcessPayment final : public plexus::Receptor {
 public:
  explicit ProcessPayment(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& msg) override;
  CircuitBreaker& breaker() { return breaker_; }

 private:
  int maxAttempts_;
  SandboxGateway gateway_;
  CircuitBreaker breaker_;
  plexus::Metric calls_;
  plexus::Metric outcomes_;
};

// RefundPayment {orderId, reason}: Captured -> Refunded + PaymentRefunded; nothing captured ->
// PaymentRefunded with amount 0 and no paymentId (it still answers).
class RefundPayment final : public plexus::Receptor {
 public:
  explicit RefundPayment(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& msg) override;

 private:
  plexus::Metric refunds_;
};

}  // namespace payments
