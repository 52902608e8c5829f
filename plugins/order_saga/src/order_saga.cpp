#include "order_saga.hpp"

#include <cmath>
#include <stdexcept>

namespace order_saga {

using plexus::Json;

// ---- helpers ----

std::optional<int64_t> toCents(const Json& amount) {
  try {
    return plexus::money::nonNegativeFromJson(amount, "totalAmount");
  } catch (const plexus::money::MoneyError&) {
    return std::nullopt;
  }
}

int64_t timeoutMsFromConfig(const Json& config) {
  if (!config.is_object() || !config.contains("timeout_seconds")) {
    return kDefaultTimeoutSeconds * 1000;
  }
  const Json& v = config["timeout_seconds"];
  double seconds = 0;
  if (v.is_number()) {
    seconds = v.get<double>();
  } else if (v.is_string()) {
    const std::string s = v.get<std::string>();
    size_t used = 0;
    try {
      seconds = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (s.empty() || used != s.size()) {
      throw std::invalid_argument("timeout_seconds must be a number, got \"" + s + "\"");
    }
  } else {
    throw std::invalid_argument("timeout_seconds must be a number");
  }
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > 31.0 * 24 * 3600) {
    throw std::invalid_argument("timeout_seconds must be > 0 and at most 31 days");
  }
  return std::max<int64_t>(1, std::llround(seconds * 1000));
}

namespace {

std::string str(const Json& p, const char* key, const std::string& fallback = {}) {
  if (p.is_object() && p.contains(key) && p[key].is_string()) return p[key].get<std::string>();
  return fallback;
}

bool isTerminal(const std::string& status) { return status == kCompleted || status == kCancelled; }

SagaState fromOrderCreated(const std::string& orderId, const Json& e, int64_t nowMs) {
  SagaState s;
  s.orderId = orderId;
  s.customerId = str(e, "customerId");
  if (s.customerId.empty()) throw std::invalid_argument("OrderCreated has no customerId");
  if (!e.contains("items") || !e["items"].is_array() || e["items"].empty()) {
    throw std::invalid_argument("OrderCreated has no items");
  }
  for (const Json& item : e["items"]) {
    const std::string productId = str(item, "productId");
    if (productId.empty()) throw std::invalid_argument("OrderCreated item has no productId");
    if (!item.contains("quantity") || !item["quantity"].is_number_integer() ||
        item["quantity"].get<int64_t>() <= 0) {
      throw std::invalid_argument("OrderCreated item quantity must be a positive integer");
    }
    s.items.push_back(
        Json{{"productId", productId}, {"quantity", item["quantity"].get<int64_t>()}});
  }
  const auto cents = e.contains("totalAmount") ? toCents(e["totalAmount"]) : std::nullopt;
  if (!cents) throw std::invalid_argument("OrderCreated totalAmount must be a money amount");
  s.totalCents = *cents;
  if (!e.contains("shippingAddress") || !e["shippingAddress"].is_object()) {
    throw std::invalid_argument("OrderCreated has no shippingAddress");
  }
  s.shippingAddress = e["shippingAddress"];
  s.currency = str(e, "currency", "USD");
  s.paymentMethod = str(e, "paymentMethod", "card");
  s.status = kInProgress;
  s.currentStep = kInventoryReserving;
  s.createdAtMs = nowMs;
  s.updatedAtMs = nowMs;
  s.version = 1;
  return s;
}

Command cancelOrder(const std::string& orderId, const std::string& reason) {
  return {"CancelOrder", Json{{"orderId", orderId}, {"reason", reason}}};
}
Command releaseInventory(const std::string& orderId, const std::string& reason) {
  return {"ReleaseInventory", Json{{"orderId", orderId}, {"reason", reason}}};
}
Command refundPayment(const std::string& orderId, const std::string& reason) {
  return {"RefundPayment", Json{{"orderId", orderId}, {"reason", reason}}};
}

Decision ignore(std::string note, bool warn = false) {
  Decision d;
  d.note = std::move(note);
  d.warn = warn;
  return d;
}

// A decision that changes `s`: copies it, bumps version and updated_at.
Decision change(const SagaState& s, int64_t nowMs, std::string note) {
  Decision d;
  d.applies = true;
  d.note = std::move(note);
  d.next = s;
  d.next.version = s.version + 1;
  d.next.updatedAtMs = nowMs;
  return d;
}

// Moves to the next step: the finished step Completed, the new one InProgress, a fresh timeout.
void advance(Decision& d, const std::string& finished, const std::string& nextStep, int64_t nowMs) {
  d.steps.push_back({finished, kStepCompleted, nowMs});
  d.next.currentStep = nextStep;
  if (nextStep != kCompleted) {
    d.steps.push_back({nextStep, kStepInProgress, nowMs});
    d.scheduleTimeout = true;
  }
}

void compensate(Decision& d, const std::string& error) {
  d.next.status = kCompensating;
  d.next.error = error;
}

}  // namespace

Decision decide(const SagaState* current, const std::string& orderId, const std::string& type,
                const Json& p, int64_t nowMs) {
  if (current == nullptr) {
    if (type == "OrderCreated") {
      Decision d;
      d.applies = true;
      d.note = "saga started";
      d.next = fromOrderCreated(orderId, p, nowMs);
      d.steps.push_back({kInventoryReserving, kStepInProgress, nowMs});
      d.commands.push_back(
          {"ReserveInventory", Json{{"orderId", orderId}, {"items", d.next.items}}});
      d.scheduleTimeout = true;
      return d;
    }
    if (type == "OrderCancelled") {
      // Recorded, so that a late OrderCreated cannot start a saga for a cancelled order.
      Decision d;
      d.applies = true;
      d.note = "order cancelled before the saga saw it; recorded as cancelled";
      d.warn = true;
      d.next.orderId = orderId;
      d.next.status = kCancelled;
      d.next.error = "Order cancelled: " + str(p, "reason", "no reason given");
      d.next.createdAtMs = nowMs;
      d.next.updatedAtMs = nowMs;
      d.next.version = 1;
      return d;
    }
    if (type == kTimeoutCommand) return ignore("timeout for an unknown saga", true);
    return ignore(type + " for an order the saga never saw", true);
  }

  const SagaState& s = *current;
  const std::string& step = s.currentStep;

  if (type == kTimeoutCommand) {
    if (!p.is_object() || !p.contains("step") || !p["step"].is_string() || !p.contains("version") ||
        !p["version"].is_number_integer()) {
      throw std::invalid_argument("OrderSagaTimeout needs step and version");
    }
    const std::string atStep = p["step"].get<std::string>();
    if (s.status != kInProgress || step != atStep || s.version != p["version"].get<int64_t>()) {
      return ignore("stale timeout for step " + atStep);
    }
    const std::string reason = "Saga timed out at step " + atStep;
    Decision d = change(s, nowMs, reason);
    compensate(d, reason);
    if (atStep == kShipmentCreating) {
      d.commands.push_back(refundPayment(orderId, reason));
      d.next.refundRequested = true;
    }
    // Also at InventoryReserving: the reservation may have happened without us hearing of it;
    // releasing nothing is harmless.
    d.commands.push_back(releaseInventory(orderId, reason));
    d.commands.push_back(cancelOrder(orderId, reason));
    return d;
  }

  if (type == "OrderCreated") return ignore("duplicate OrderCreated");

  if (type == "OrderCancelled") {
    if (s.status == kCancelled) return ignore("duplicate OrderCancelled");
    if (s.status == kCompleted) return ignore("OrderCancelled after the saga completed");
    Decision d = change(s, nowMs, "order cancelled");
    d.next.status = kCancelled;
    if (d.next.error.empty())
      d.next.error = "Order cancelled: " + str(p, "reason", "no reason given");
    return d;
  }

  if (s.status == kCompleted) return ignore(type + " after the saga completed");

  if (s.status != kInProgress) {
    // Compensating or Cancelled: no forward progress. Late outcomes are still recorded; a
    // payment captured while compensating (e.g. after a timeout) is refunded.
    if (type == "PaymentProcessed") {
      const std::string paymentId = str(p, "paymentId");
      if (s.status == kCompensating && !s.refundRequested) {
        Decision d = change(s, nowMs, "payment captured while compensating; refunding");
        if (d.next.paymentId.empty()) d.next.paymentId = paymentId;
        d.next.refundRequested = true;
        d.commands.push_back(
            refundPayment(orderId, "Payment captured after the saga began compensating"));
        d.warn = true;
        return d;
      }
      if (s.paymentId.empty() && !paymentId.empty()) {
        Decision d =
            change(s, nowMs, "late PaymentProcessed recorded (no commands after " + s.status + ")");
        d.next.paymentId = paymentId;
        d.warn = true;
        return d;
      }
    }
    if (type == "ShipmentCreated") {
      const std::string shipmentId = str(p, "shipmentId");
      if (s.shipmentId.empty() && !shipmentId.empty()) {
        Decision d =
            change(s, nowMs, "late ShipmentCreated recorded (no commands after " + s.status + ")");
        d.next.shipmentId = shipmentId;
        d.warn = true;
        return d;
      }
    }
    return ignore(type + " while " + s.status);
  }

  // InProgress: an event only counts for the step it answers; anything else is a duplicate or
  // an outcome of a step already left.
  if (type == "InventoryReserved") {
    if (step != kInventoryReserving) return ignore("InventoryReserved at step " + step);
    Decision d = change(s, nowMs, "inventory reserved");
    advance(d, kInventoryReserving, kPaymentProcessing, nowMs);
    d.commands.push_back({"ProcessPayment", Json{{"orderId", orderId},
                                                 {"customerId", s.customerId},
                                                 {"amount", plexus::money::toJson(s.totalCents)},
                                                 {"currency", s.currency},
                                                 {"paymentMethod", s.paymentMethod}}});
    return d;
  }
  if (type == "InventoryInsufficient") {
    if (step != kInventoryReserving) return ignore("InventoryInsufficient at step " + step);
    Decision d = change(s, nowMs, "inventory insufficient");
    std::string error = "Insufficient inventory";
    const std::string productId = str(p, "productId");
    if (!productId.empty()) {
      error += ": product " + productId;
      if (p.contains("requestedQuantity") && p["requestedQuantity"].is_number_integer()) {
        error += " requested " + std::to_string(p["requestedQuantity"].get<int64_t>());
      }
      if (p.contains("availableStock") && p["availableStock"].is_number_integer()) {
        error += ", available " + std::to_string(p["availableStock"].get<int64_t>());
      }
    }
    compensate(d, error);
    d.commands.push_back(cancelOrder(orderId, "Insufficient inventory"));
    return d;
  }
  if (type == "PaymentProcessed") {
    if (step != kPaymentProcessing) return ignore("PaymentProcessed at step " + step);
    Decision d = change(s, nowMs, "payment processed");
    d.next.paymentId = str(p, "paymentId");
    advance(d, kPaymentProcessing, kShipmentCreating, nowMs);
    d.commands.push_back({"CreateShipment", Json{{"orderId", orderId},
                                                 {"customerId", s.customerId},
                                                 {"shippingAddress", s.shippingAddress}}});
    return d;
  }
  if (type == "PaymentFailed") {
    if (step != kPaymentProcessing) return ignore("PaymentFailed at step " + step);
    const std::string reason = "Payment failed: " + str(p, "reason", "unknown reason");
    Decision d = change(s, nowMs, "payment failed");
    if (d.next.paymentId.empty()) d.next.paymentId = str(p, "paymentId");
    compensate(d, reason);
    d.commands.push_back(releaseInventory(orderId, reason));
    d.commands.push_back(cancelOrder(orderId, reason));
    return d;
  }
  if (type == "ShipmentCreated") {
    if (step != kShipmentCreating) return ignore("ShipmentCreated at step " + step);
    Decision d = change(s, nowMs, "shipment created; saga completed");
    d.next.shipmentId = str(p, "shipmentId");
    d.next.status = kCompleted;
    advance(d, kShipmentCreating, kCompleted, nowMs);
    return d;
  }
  if (type == "ShipmentFailed") {
    if (step != kShipmentCreating) return ignore("ShipmentFailed at step " + step);
    const std::string reason = "Shipment failed: " + str(p, "reason", "unknown reason");
    Decision d = change(s, nowMs, "shipment failed");
    compensate(d, reason);
    d.next.refundRequested = true;
    d.commands.push_back(refundPayment(orderId, reason));
    d.commands.push_back(releaseInventory(orderId, reason));
    d.commands.push_back(cancelOrder(orderId, reason));
    return d;
  }
  return ignore("message type " + type + " is not part of the saga");
}

Json sagaView(const SagaState& s, const std::vector<StepRow>& stored) {
  Json out{{"orderId", s.orderId},
           {"status", s.status},
           {"currentStep", s.currentStep.empty() ? Json(nullptr) : Json(s.currentStep)}};
  if (!s.paymentId.empty()) out["paymentId"] = s.paymentId;
  if (!s.shipmentId.empty()) out["shipmentId"] = s.shipmentId;
  if (!s.error.empty()) out["error"] = s.error;
  out["createdAt"] = plexus::rfc3339::format(s.createdAtMs);
  out["updatedAt"] = plexus::rfc3339::format(s.updatedAtMs);
  Json steps = Json::array();
  for (const char* name : {kInventoryReserving, kPaymentProcessing, kShipmentCreating}) {
    Json entry{{"step", name}, {"status", kStepPending}, {"timestamp", nullptr}};
    for (const StepRow& r : stored) {
      if (r.step == name) {
        entry["status"] = r.status;
        entry["timestamp"] = plexus::rfc3339::format(r.atMs);
      }
    }
    steps.push_back(entry);
  }
  out["steps"] = steps;
  return out;
}

// ---- persistence ----

namespace {

const char* const kSelectState =
    "SELECT order_id, status, current_step, payment_id, shipment_id, error, customer_id, "
    "total_cents, currency, payment_method, items, shipping_address, refund_requested, "
    "created_at, updated_at, version FROM order_saga_state WHERE order_id = $1";
const char* const kInsertState =
    "INSERT INTO order_saga_state (order_id, status, current_step, payment_id, shipment_id, "
    "error, customer_id, total_cents, currency, payment_method, items, shipping_address, "
    "refund_requested, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
    "$9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (order_id) DO NOTHING";
const char* const kUpdateState =
    "UPDATE order_saga_state SET status = $1, current_step = $2, payment_id = $3, "
    "shipment_id = $4, error = $5, refund_requested = $6, updated_at = $7, version = $8 "
    "WHERE order_id = $9 AND version = $10";
const char* const kUpsertStep =
    "INSERT INTO order_saga_steps (order_id, step, status, changed_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (order_id, step) DO UPDATE SET status = excluded.status, "
    "changed_at = excluded.changed_at";
const char* const kSelectSteps =
    "SELECT step, status, changed_at FROM order_saga_steps WHERE order_id = $1";

std::string text(const plexus::Value& v) { return v.isNull() ? std::string() : v.asText(); }
plexus::Value nullable(const std::string& s) {
  return s.empty() ? plexus::Value() : plexus::Value(s);
}
Json jsonColumn(const plexus::Value& v, Json fallback) {
  if (v.isNull()) return fallback;
  Json j = Json::parse(v.asText(), nullptr, false);
  return j.is_discarded() ? fallback : j;
}

std::optional<SagaState> load(plexus::Context& ctx, const std::string& orderId) {
  const plexus::Rows rows = ctx.sql(kSelectState, orderId);
  if (rows.empty()) return std::nullopt;
  const plexus::Row& r = rows.front();
  SagaState s;
  s.orderId = text(r.at(0));
  s.status = text(r.at(1));
  s.currentStep = text(r.at(2));
  s.paymentId = text(r.at(3));
  s.shipmentId = text(r.at(4));
  s.error = text(r.at(5));
  s.customerId = text(r.at(6));
  s.totalCents = r.at(7).isNull() ? 0 : r.at(7).asInt();
  s.currency = text(r.at(8));
  s.paymentMethod = text(r.at(9));
  s.items = jsonColumn(r.at(10), Json::array());
  s.shippingAddress = jsonColumn(r.at(11), Json::object());
  s.refundRequested = !r.at(12).isNull() && r.at(12).asInt() != 0;
  s.createdAtMs = r.at(13).asInt();
  s.updatedAtMs = r.at(14).asInt();
  s.version = r.at(15).asInt();
  return s;
}

void persist(plexus::Context& ctx, const SagaState* before, const Decision& d) {
  const SagaState& n = d.next;
  if (before == nullptr) {
    const int64_t inserted = ctx.exec(
        kInsertState, n.orderId, n.status, nullable(n.currentStep), nullable(n.paymentId),
        nullable(n.shipmentId), nullable(n.error), nullable(n.customerId), n.totalCents,
        nullable(n.currency), nullable(n.paymentMethod), n.items.dump(), n.shippingAddress.dump(),
        n.refundRequested ? 1 : 0, n.createdAtMs, n.updatedAtMs, n.version);
    if (inserted != 1)
      throw plexus::TransientError("saga " + n.orderId + " was created concurrently");
  } else {
    const int64_t updated =
        ctx.exec(kUpdateState, n.status, nullable(n.currentStep), nullable(n.paymentId),
                 nullable(n.shipmentId), nullable(n.error), n.refundRequested ? 1 : 0,
                 n.updatedAtMs, n.version, n.orderId, before->version);
    if (updated != 1)
      throw plexus::TransientError("saga " + n.orderId + " was changed concurrently");
  }
  for (const StepRow& r : d.steps) ctx.exec(kUpsertStep, n.orderId, r.step, r.status, r.atMs);
}

}  // namespace

// ---- components ----

OrderSaga::OrderSaga(plexus::Host& host)
    : timeoutMs_(timeoutMsFromConfig(host.config())),
      events_(
          host.counter("order_saga_events_total",
                       "Messages the order saga handled, by type and outcome (applied|ignored).",
                       {"type", "outcome"})),
      started_(host.counter("order_saga_started_total", "Order sagas started.")),
      statusChanges_(host.counter("order_saga_status_changes_total",
                                  "Saga status changes, by the new status.", {"status"})) {}

plexus::Result OrderSaga::handle(plexus::Context& ctx, const plexus::Message& m) {
  const Json p = m.json();
  if (!p.is_object()) return plexus::reject("payload must be a JSON object");
  const std::string type(m.type());
  const std::string orderId = str(p, "orderId", std::string(m.stream()));
  if (orderId.empty()) return plexus::reject(type + " has no orderId");

  const std::optional<SagaState> current = load(ctx, orderId);
  Decision d;
  try {
    d = decide(current ? &*current : nullptr, orderId, type, p, ctx.nowMs());
  } catch (const std::invalid_argument& e) {
    return plexus::reject(e.what());
  }
  if (!d.applies) {
    ctx.log(d.warn ? plexus::LogLevel::Warn : plexus::LogLevel::Info,
            "order saga " + orderId + ": ignored " + type + ": " + d.note);
    ctx.afterCommit([this, type] { events_.increment({type, "ignored"}); });
    return plexus::ok();
  }

  persist(ctx, current ? &*current : nullptr, d);
  for (const Command& c : d.commands) ctx.send(c.type, c.payload, orderId);
  if (d.scheduleTimeout) {
    ctx.schedule(
        kTimeoutCommand,
        Json{{"orderId", orderId}, {"step", d.next.currentStep}, {"version", d.next.version}},
        ctx.nowMs() + timeoutMs_, orderId);
  }
  ctx.log(
      d.warn ? plexus::LogLevel::Warn : plexus::LogLevel::Info,
      "order saga " + orderId + ": " + type + ": " + d.note + " (status " + d.next.status + ")");
  const bool started = !current.has_value() && d.next.status == kInProgress;
  const bool statusChanged = current.has_value() && current->status != d.next.status;
  const std::string status = d.next.status;
  ctx.afterCommit([this, type, started, statusChanged, status] {
    events_.increment({type, "applied"});
    if (started) started_.increment();
    if (statusChanged) statusChanges_.increment({status});
  });
  return plexus::ok();
}

plexus::Response GetSaga::handle(plexus::Context& ctx, const plexus::Request& req) {
  const std::string orderId = req.param("orderId").value_or("");
  if (orderId.empty() || orderId.size() > 64) return plexus::Response::error(404, "saga not found");
  const std::optional<SagaState> s = load(ctx, orderId);
  if (!s) return plexus::Response::error(404, "saga not found");
  std::vector<StepRow> steps;
  for (const plexus::Row& r : ctx.sql(kSelectSteps, orderId)) {
    steps.push_back({text(r.at(0)), text(r.at(1)), r.at(2).asInt()});
  }
  return plexus::Response::json(200, sagaView(*s, steps));
}

}  // namespace order_saga
