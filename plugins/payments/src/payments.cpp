#include "payments.hpp"

namespace payments {

using plexus::BadRequest;
using plexus::Json;

namespace {
constexpr int64_t kMaxCents = 100000000000LL;  // 1,000,000,000.00
}

bool validId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<int64_t> parseCents(const Json& v) {
  try {
    return plexus::money::nonNegativeFromJson(v, "amount", kMaxCents);
  } catch (const plexus::money::MoneyError&) {
    return std::nullopt;
  }
}

bool validCurrency(std::string_view s) {
  if (s.size() != 3) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

std::string idempotencyKey(std::string_view orderId) {
  return "order-" + std::string(orderId) + "-payment";
}

// ---- sandbox gateway ----

namespace {
std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}
}  // namespace

GatewayResponse SandboxGateway::charge(const Charge& c) const {
  using K = GatewayResponse::Kind;
  GatewayResponse r;
  if (c.method == "pm_card_declined") {
    r.kind = K::Declined;
    r.errorCode = "card_declined";
    r.message = "Your card was declined.";
    return r;
  }
  if (c.method == "pm_card_network_error" ||
      (c.method == "pm_card_network_error_once" && c.attempt <= 2)) {
    r.kind = K::Transient;
    r.errorCode = "network_error";
    r.message = "Network error talking to the payment gateway.";
    return r;
  }
  if (c.method == "pm_card_pending") {
    r.kind = K::Pending;
    return r;
  }
  r.kind = K::Captured;
  r.transactionId = "txn_sandbox_" + hex64(fnv1a(c.idempotencyKey));
  return r;
}

// ---- circuit breaker ----

CircuitBreaker::CircuitBreaker(int failureThreshold, int64_t openMs, std::function<int64_t()> clock)
    : threshold_(failureThreshold < 1 ? 1 : failureThreshold),
      openMs_(openMs),
      clock_(std::move(clock)) {}

bool CircuitBreaker::allow() {
  std::lock_guard<std::mutex> lock(mu_);
  switch (state_) {
    case State::Closed:
      return true;
    case State::Open:
      if (clock_() - openedAt_ < openMs_) return false;
      state_ = State::HalfOpen;
      probeInFlight_ = true;
      return true;
    case State::HalfOpen:
      if (probeInFlight_) return false;  // one probe at a time
      probeInFlight_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::onSuccess() {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = State::Closed;
  failures_ = 0;
  probeInFlight_ = false;
}

void CircuitBreaker::onTransientFailure() {
  std::lock_guard<std::mutex> lock(mu_);
  probeInFlight_ = false;
  if (state_ == State::HalfOpen) {
    state_ = State::Open;
    openedAt_ = clock_();
    return;
  }
  ++failures_;
  if (state_ == State::Closed && failures_ >= threshold_) {
    state_ = State::Open;
    openedAt_ = clock_();
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

// ---- ProcessPayment ----

namespace {

std::string requireId(const Json& body, const char* field) {
  if (!body.contains(field) || !body[field].is_string()) {
    throw BadRequest(std::string("\"") + field + "\" must be a string");
  }
  std::string s = body[field].get<std::string>();
  if (!validId(s)) {
    throw BadRequest(std::string("\"") + field + "\" must be 1-64 characters of [A-Za-z0-9._-]");
  }
  return s;
}

int configInt(const Json& cfg, const char* key, int def, int lo, int hi) {
  if (!cfg.contains(key)) return def;
  const Json& v = cfg[key];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    throw std::invalid_argument(std::string("config ") + key + " must be an integer in " +
                                std::to_string(lo) + ".." + std::to_string(hi));
  }
  return static_cast<int>(v.get<int64_t>());
}

struct Stored {
  std::string orderId, paymentId, transactionId, status, currency, method, errorCode, reason,
      idempotencyKey, refundId, customerId;
  int64_t amountCents = 0, processedAt = 0, refundedAt = 0;
};

std::optional<Stored> loadPayment(plexus::Context& ctx, const std::string& orderId) {
  const plexus::Rows rows = ctx.sql(sql::kSelectPayment, orderId);
  if (rows.empty()) return std::nullopt;
  const plexus::Row& r = rows.front();
  auto text = [&](size_t i) { return r.at(i).isNull() ? std::string() : r.at(i).asText(); };
  auto num = [&](size_t i) { return r.at(i).isNull() ? int64_t{0} : r.at(i).asInt(); };
  Stored s;
  s.orderId = text(0);
  s.paymentId = text(1);
  s.transactionId = text(2);
  s.status = text(3);
  s.amountCents = num(4);
  s.currency = text(5);
  s.method = text(6);
  s.errorCode = text(7);
  s.reason = text(8);
  s.processedAt = num(9);
  s.idempotencyKey = text(10);
  s.refundId = text(11);
  s.refundedAt = num(12);
  s.customerId = text(13);
  return s;
}

Json processedEvent(const Stored& s) {
  return Json{{"orderId", s.orderId},
              {"paymentId", s.paymentId},
              {"transactionId", s.transactionId},
              {"amount", plexus::money::toJson(s.amountCents)},
              {"currency", s.currency},
              {"paymentMethod", s.method},
              {"status", "Captured"},
              {"processedAt", plexus::rfc3339::format(s.processedAt)}};
}

Json failedEvent(const Stored& s) {
  return Json{{"orderId", s.orderId},
              {"paymentId", s.paymentId},
              {"reason", s.reason},
              {"errorCode", s.errorCode},
              {"failedAt", plexus::rfc3339::format(s.processedAt)}};
}

}  // namespace

PaymentRequest parsePayment(const Json& body) {
  if (!body.is_object()) throw BadRequest("payload must be a JSON object");
  PaymentRequest p;
  p.orderId = requireId(body, "orderId");
  p.customerId = requireId(body, "customerId");
  const auto cents = body.contains("amount") ? parseCents(body["amount"]) : std::nullopt;
  if (!cents) throw BadRequest("\"amount\" must be a number >= 0 with at most 2 decimals");
  p.amountCents = *cents;
  p.currency = "USD";
  if (body.contains("currency") && !body["currency"].is_null()) {
    if (!body["currency"].is_string() || !validCurrency(body["currency"].get<std::string>())) {
      throw BadRequest("\"currency\" must be an ISO 4217 code such as \"USD\"");
    }
    p.currency = body["currency"].get<std::string>();
  }
  p.method = "card";
  if (body.contains("paymentMethod") && !body["paymentMethod"].is_null()) {
    p.method = requireId(body, "paymentMethod");
  }
  return p;
}

ProcessPayment::ProcessPayment(plexus::Host& host)
    : maxAttempts_(configInt(host.config(), "max_gateway_attempts", 3, 1, 100)),
      breaker_(configInt(host.config(), "breaker_failure_threshold", 5, 1, 1000000),
               configInt(host.config(), "breaker_open_ms", 30000, 0, 86400000),
               [&host] { return host.nowMs(); }),
      calls_(host.counter("payments_gateway_calls_total",
                          "Sandbox gateway calls by outcome (captured, declined, transient, "
                          "pending, short_circuited).",
                          {"outcome"})),
      outcomes_(host.counter("payments_processed_total",
                             "ProcessPayment outcomes (captured, failed, pending, replayed).",
                             {"outcome"})) {}

plexus::Result ProcessPayment::handle(plexus::Context& ctx, const plexus::Message& msg) {
  const PaymentRequest req = parsePayment(msg.json());
  const std::string& stream = req.orderId;

  // Decided before: re-emit the stored outcome; the gateway is not called again.
  if (const auto prior = loadPayment(ctx, req.orderId)) {
    if (prior->status == "Captured") {
      ctx.emit("PaymentProcessed", processedEvent(*prior), stream);
    } else if (prior->status == "Failed") {
      ctx.emit("PaymentFailed", failedEvent(*prior), stream);
    }  // Refunded: the payment is closed; answering again would restart the flow.
    ctx.afterCommit([this] { outcomes_.increment({"replayed"}); });
    return plexus::ok(Json{{"status", prior->status}, {"repeated", true}}.dump());
  }

  const std::string key = idempotencyKey(req.orderId);
  const int64_t now = ctx.nowMs();
  auto fail = [&](const std::string& code, const std::string& reason) {
    Stored s;
    s.orderId = req.orderId;
    s.paymentId = ctx.newId();
    s.status = "Failed";
    s.amountCents = req.amountCents;
    s.currency = req.currency;
    s.method = req.method;
    s.errorCode = code;
    s.reason = reason;
    s.processedAt = now;
    ctx.exec(sql::kInsertPayment, s.orderId, s.paymentId, nullptr, s.status, s.amountCents,
             s.currency, s.method, s.errorCode, s.reason, s.processedAt, key, req.customerId);
    ctx.emit("PaymentFailed", failedEvent(s), stream);
    ctx.afterCommit([this] { outcomes_.increment({"failed"}); });
    return plexus::ok(Json{{"status", "Failed"}, {"errorCode", code}}.dump());
  };
  // Transient trouble: retry while the attempt budget lasts, then fail for good.
  auto transient = [&](const std::string& code, const std::string& reason) {
    if (msg.attempt() < static_cast<uint32_t>(maxAttempts_)) {
      return plexus::retry(reason + " (attempt " + std::to_string(msg.attempt()) + ")");
    }
    return fail(code, reason + " after " + std::to_string(msg.attempt()) + " attempts");
  };

  if (!breaker_.allow()) {
    calls_.increment({"short_circuited"});
    return transient("gateway_unavailable", "payment gateway circuit open");
  }
  const GatewayResponse g =
      gateway_.charge(Charge{key, req.amountCents, req.currency, req.method, msg.attempt()});
  using K = GatewayResponse::Kind;
  switch (g.kind) {
    case K::Transient:
      breaker_.onTransientFailure();
      calls_.increment({"transient"});
      return transient(g.errorCode, g.message);
    case K::Declined:
      breaker_.onSuccess();
      calls_.increment({"declined"});
      return fail(g.errorCode, g.message);
    case K::Pending:
      breaker_.onSuccess();
      calls_.increment({"pending"});
      ctx.afterCommit([this] { outcomes_.increment({"pending"}); });
      return plexus::ok(Json{{"status", "Pending"}}.dump());
    case K::Captured:
      break;
  }
  breaker_.onSuccess();
  calls_.increment({"captured"});
  Stored s;
  s.orderId = req.orderId;
  s.paymentId = ctx.newId();
  s.transactionId = g.transactionId;
  s.status = "Captured";
  s.amountCents = req.amountCents;
  s.currency = req.currency;
  s.method = req.method;
  s.processedAt = now;
  ctx.exec(sql::kInsertPayment, s.orderId, s.paymentId, s.transactionId, s.status, s.amountCents,
           s.currency, s.method, nullptr, nullptr, s.processedAt, key, req.customerId);
  ctx.emit("PaymentProcessed", processedEvent(s), stream);
  ctx.afterCommit([this] { outcomes_.increment({"captured"}); });
  return plexus::ok(Json{{"status", "Captured"}, {"paymentId", s.paymentId}}.dump());
}

// ---- RefundPayment ----

RefundPayment::RefundPayment(plexus::Host& host)
    : refunds_(host.counter("payments_refunds_total",
                            "RefundPayment outcomes (refunded, replayed, nothing_captured).",
                            {"outcome"})) {}

plexus::Result RefundPayment::handle(plexus::Context& ctx, const plexus::Message& msg) {
  const Json body = msg.json();
  if (!body.is_object()) throw BadRequest("payload must be a JSON object");
  const std::string orderId = requireId(body, "orderId");
  const std::string reason = body.contains("reason") && body["reason"].is_string()
                                 ? body["reason"].get<std::string>()
                                 : std::string();
  const int64_t now = ctx.nowMs();
  const auto prior = loadPayment(ctx, orderId);
  std::string outcome;
  Json event;
  if (prior && prior->status == "Captured") {
    const std::string refundId = ctx.newId();
    if (ctx.exec(sql::kMarkRefunded, refundId, now, reason, orderId) != 1) {
      return plexus::retry("payment of order " + orderId + " changed concurrently");
    }
    event =
        Json{{"orderId", orderId},          {"paymentId", prior->paymentId},
             {"refundId", refundId},        {"amount", plexus::money::toJson(prior->amountCents)},
             {"currency", prior->currency}, {"refundedAt", plexus::rfc3339::format(now)}};
    outcome = "refunded";
  } else if (prior && prior->status == "Refunded") {
    event = Json{
        {"orderId", orderId},          {"paymentId", prior->paymentId},
        {"refundId", prior->refundId}, {"amount", plexus::money::toJson(prior->amountCents)},
        {"currency", prior->currency}, {"refundedAt", plexus::rfc3339::format(prior->refundedAt)}};
    outcome = "replayed";
  } else {
    // Nothing captured (no payment, failed, or pending): a no-op that still answers.
    event = Json{{"orderId", orderId},
                 {"refundId", ctx.newId()},
                 {"amount", 0},
                 {"currency", prior ? prior->currency : std::string("USD")},
                 {"refundedAt", plexus::rfc3339::format(now)}};
    outcome = "nothing_captured";
  }
  ctx.emit("PaymentRefunded", event, orderId);
  ctx.afterCommit([this, outcome] { refunds_.increment({outcome}); });
  return plexus::ok(Json{{"outcome", outcome}, {"refundId", event["refundId"]}}.dump());
}

}  // namespace payments
