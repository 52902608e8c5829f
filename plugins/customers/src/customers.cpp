#include "customers.hpp"

#include <cstdio>
#include <limits>

namespace customers {

using plexus::Json;

// ---- helpers ----

bool validId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<int64_t> moneyToCents(const Json& v) {
  constexpr int64_t kMaxCents = 1'000'000'000'000'000;  // 10^13 of the currency
  try {
    return plexus::money::nonNegativeFromJson(v, "amount", kMaxCents);
  } catch (const plexus::money::MoneyError&) {
    return std::nullopt;
  }
}

std::string deriveStatus(const OrderFacts& f) {
  if (f.delivered) return "Delivered";
  if (f.cancelled) return "Cancelled";
  if (f.shipped) return "Shipped";
  if (f.paid) return "PaymentProcessed";
  return "Pending";
}

bool countsAsOrder(const OrderFacts& f) { return f.created; }

bool countsAsSpent(const OrderFacts& f) { return f.created && deriveStatus(f) != "Cancelled"; }

// ---- projection ----

namespace {

// A reject for bad event content: the event goes to the dead letters with the reason.
struct BadEvent : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string text(const Json& body, const char* key, bool required) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) throw BadEvent(std::string("\"") + key + "\" is required");
    return {};
  }
  if (!it->is_string()) throw BadEvent(std::string("\"") + key + "\" must be a string");
  return it->get<std::string>();
}

// An optional RFC 3339 field; `fallback` when absent, BadEvent when malformed.
std::optional<int64_t> timeField(const Json& body, const char* key,
                                 std::optional<int64_t> fallback) {
  const std::string s = text(body, key, false);
  if (s.empty()) return fallback;
  auto ms = plexus::rfc3339::parse(s);
  if (!ms) throw BadEvent(std::string("\"") + key + "\" is not an RFC 3339 timestamp");
  return ms;
}

plexus::Value optInt(const std::optional<int64_t>& v) {
  return v ? plexus::Value(static_cast<long long>(*v)) : plexus::Value();
}
plexus::Value optText(const std::string& s) {
  return s.empty() ? plexus::Value() : plexus::Value(s);
}

int64_t intOf(const plexus::Value& v) { return v.isNull() ? 0 : v.asInt(); }

void recordCreated(plexus::Context& ctx, const std::string& orderId, const Json& e,
                   int64_t fallbackMs, int64_t now) {
  const std::string customerId = text(e, "customerId", true);
  if (!validId(customerId)) throw BadEvent("\"customerId\" must be 1-64 of [A-Za-z0-9._-]");
  int64_t itemCount = 0;
  int64_t linesCents = 0;
  auto items = e.find("items");
  if (items != e.end() && !items->is_null()) {
    if (!items->is_array()) throw BadEvent("\"items\" must be an array");
    for (const auto& it : *items) {
      if (!it.is_object() || !it.contains("quantity") || !it["quantity"].is_number_integer() ||
          it["quantity"].get<int64_t>() <= 0) {
        throw BadEvent("every item needs a positive integer \"quantity\"");
      }
      const int64_t q = it["quantity"].get<int64_t>();
      itemCount += q;
      if (auto lt = it.find("lineTotal"); lt != it.end()) {
        auto c = moneyToCents(*lt);
        if (!c) throw BadEvent("\"lineTotal\" must be a money amount");
        linesCents += *c;
      } else if (auto up = it.find("unitPrice"); up != it.end()) {
        auto c = moneyToCents(*up);
        if (!c) throw BadEvent("\"unitPrice\" must be a money amount");
        linesCents += *c * q;
      }
    }
  }
  int64_t totalCents = linesCents;
  if (auto t = e.find("totalAmount"); t != e.end() && !t->is_null()) {
    auto c = moneyToCents(*t);
    if (!c) throw BadEvent("\"totalAmount\" must be a money amount (>= 0, 2 decimals)");
    totalCents = *c;
  }
  std::string currency = text(e, "currency", false);
  if (currency.empty()) currency = "USD";
  const Json address = e.value("shippingAddress", Json::object());
  const int64_t createdAt = *timeField(e, "createdAt", fallbackMs);
  ctx.exec(
      "UPDATE customers_order_summary SET created = 1, customer_id = $1, total_cents = $2, "
      "currency = $3, item_count = $4, shipping_address = $5, created_at = $6, updated_at = $7 "
      "WHERE order_id = $8 AND created = 0",
      customerId, static_cast<long long>(totalCents), currency, static_cast<long long>(itemCount),
      address.dump(), static_cast<long long>(createdAt), static_cast<long long>(now), orderId);
}

void recordPaid(plexus::Context& ctx, const std::string& orderId, const Json& e, int64_t fallbackMs,
                int64_t now) {
  const std::string paymentId = text(e, "paymentId", true);
  std::string status = text(e, "status", false);
  if (status.empty()) status = "Captured";
  ctx.exec(
      "UPDATE customers_order_summary SET payment_id = $1, payment_status = $2, "
      "payment_processed_at = $3, updated_at = $4 WHERE order_id = $5 AND payment_id IS NULL",
      paymentId, status, optInt(timeField(e, "processedAt", fallbackMs)),
      static_cast<long long>(now), orderId);
}

void recordShipped(plexus::Context& ctx, const std::string& orderId, const Json& e, int64_t now) {
  const std::string shipmentId = text(e, "shipmentId", true);
  ctx.exec(
      "UPDATE customers_order_summary SET shipment_created = 1, shipment_id = $1, "
      "tracking_number = $2, estimated_delivery = $3, updated_at = $4 "
      "WHERE order_id = $5 AND shipment_created = 0",
      shipmentId, optText(text(e, "trackingNumber", false)),
      optInt(timeField(e, "estimatedDelivery", std::nullopt)), static_cast<long long>(now),
      orderId);
}

void recordDelivered(plexus::Context& ctx, const std::string& orderId, const Json& e,
                     int64_t fallbackMs, int64_t now) {
  ctx.exec(
      "UPDATE customers_order_summary SET actual_delivery = $1, "
      "shipment_id = COALESCE(shipment_id, $2), tracking_number = COALESCE(tracking_number, $3), "
      "updated_at = $4 WHERE order_id = $5 AND actual_delivery IS NULL",
      optInt(timeField(e, "deliveredAt", fallbackMs)), optText(text(e, "shipmentId", false)),
      optText(text(e, "trackingNumber", false)), static_cast<long long>(now), orderId);
}

void recordCancelled(plexus::Context& ctx, const std::string& orderId, const Json& e,
                     int64_t fallbackMs, int64_t now) {
  ctx.exec(
      "UPDATE customers_order_summary SET cancelled = 1, cancellation_reason = $1, "
      "cancelled_at = $2, updated_at = $3 WHERE order_id = $4 AND cancelled = 0",
      text(e, "reason", false), optInt(timeField(e, "cancelledAt", fallbackMs)),
      static_cast<long long>(now), orderId);
}

// Re-derives the status and moves the customer's totals by what changed for this order.
plexus::Result reconcile(plexus::Context& ctx, const std::string& orderId, int64_t now) {
  const auto rows = ctx.sql(
      "SELECT created, customer_id, total_cents, currency, created_at, payment_id, shipment_id, "
      "actual_delivery, cancelled, status, order_counted, spent_counted "
      "FROM customers_order_summary WHERE order_id = $1",
      orderId);
  if (rows.empty()) return plexus::retry("order summary row vanished");
  const auto& r = rows[0];
  OrderFacts f;
  f.created = intOf(r[0]) != 0;
  f.paid = !r[5].isNull();
  f.shipped = !r[6].isNull();
  f.delivered = !r[7].isNull();
  f.cancelled = intOf(r[8]) != 0;
  const std::string status = deriveStatus(f);
  const int64_t oldOrder = intOf(r[10]), oldSpent = intOf(r[11]);
  const int64_t wantOrder = countsAsOrder(f) ? 1 : 0, wantSpent = countsAsSpent(f) ? 1 : 0;
  const std::string oldStatus = r[9].isNull() ? std::string() : r[9].asText();
  if (status == oldStatus && oldOrder == wantOrder && oldSpent == wantSpent) return plexus::ok();
  const int64_t changed = ctx.exec(
      "UPDATE customers_order_summary SET status = $1, order_counted = $2, spent_counted = $3 "
      "WHERE order_id = $4 AND order_counted = $5 AND spent_counted = $6",
      status, static_cast<long long>(wantOrder), static_cast<long long>(wantSpent), orderId,
      static_cast<long long>(oldOrder), static_cast<long long>(oldSpent));
  if (changed != 1) return plexus::retry("order summary changed concurrently");
  if (!f.created || (oldOrder == wantOrder && oldSpent == wantSpent)) return plexus::ok();
  const int64_t totalCents = intOf(r[2]);
  const int64_t createdAt = intOf(r[4]);
  ctx.exec(
      "INSERT INTO customers_activity (customer_id, total_orders, total_spent_cents, currency, "
      "last_order_id, last_order_at, first_order_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $6, $7) "
      "ON CONFLICT (customer_id) DO UPDATE SET "
      "total_orders = customers_activity.total_orders + excluded.total_orders, "
      "total_spent_cents = customers_activity.total_spent_cents + excluded.total_spent_cents, "
      "last_order_id = CASE WHEN excluded.last_order_at > customers_activity.last_order_at OR "
      "(excluded.last_order_at = customers_activity.last_order_at AND "
      "excluded.last_order_id > customers_activity.last_order_id) "
      "THEN excluded.last_order_id ELSE customers_activity.last_order_id END, "
      "last_order_at = CASE WHEN excluded.last_order_at > customers_activity.last_order_at "
      "THEN excluded.last_order_at ELSE customers_activity.last_order_at END, "
      "first_order_at = CASE WHEN excluded.first_order_at < customers_activity.first_order_at "
      "THEN excluded.first_order_at ELSE customers_activity.first_order_at END, "
      "updated_at = excluded.updated_at",
      r[1].asText(), static_cast<long long>(wantOrder - oldOrder),
      static_cast<long long>((wantSpent - oldSpent) * totalCents),
      r[3].isNull() ? std::string("USD") : r[3].asText(), orderId,
      static_cast<long long>(createdAt), static_cast<long long>(now));
  return plexus::ok();
}

}  // namespace

plexus::Result CustomerProjection::handle(plexus::Context& ctx, const plexus::Message& event) {
  const Json e = event.json();
  if (!e.is_object()) return plexus::reject("event payload must be a JSON object");
  try {
    std::string orderId = text(e, "orderId", false);
    if (orderId.empty()) orderId = std::string(event.stream());
    if (!validId(orderId)) return plexus::reject("\"orderId\" must be 1-64 of [A-Za-z0-9._-]");
    const std::string type(event.type());
    const int64_t now = ctx.nowMs();
    const int64_t fallback = event.timestampMs();
    if (type != "OrderCreated" && type != "PaymentProcessed" && type != "ShipmentCreated" &&
        type != "ShipmentDelivered" && type != "OrderCancelled") {
      return plexus::reject("customers: unexpected event type " + type);
    }
    ctx.exec(
        "INSERT INTO customers_order_summary (order_id, updated_at) VALUES ($1, $2) "
        "ON CONFLICT (order_id) DO NOTHING",
        orderId, static_cast<long long>(now));
    if (type == "OrderCreated") {
      recordCreated(ctx, orderId, e, fallback, now);
    } else if (type == "PaymentProcessed") {
      recordPaid(ctx, orderId, e, fallback, now);
    } else if (type == "ShipmentCreated") {
      recordShipped(ctx, orderId, e, now);
    } else if (type == "ShipmentDelivered") {
      recordDelivered(ctx, orderId, e, fallback, now);
    } else {
      recordCancelled(ctx, orderId, e, fallback, now);
    }
    return reconcile(ctx, orderId, now);
  } catch (const BadEvent& ex) {
    return plexus::reject(std::string(event.type()) + ": " + ex.what());
  }
}

// ---- routes ----

namespace {

std::string customerParam(const plexus::Request& req) {
  const std::string id = req.param("id").value_or("");
  if (!validId(id)) throw plexus::BadRequest("customer id must be 1-64 of [A-Za-z0-9._-]");
  return id;
}

Json summaryJson(const plexus::Row& r) {
  // order_id, customer_id, total_cents, currency, status, item_count, shipping_address,
  // created_at, payment_id, payment_status, payment_processed_at, shipment_id, tracking_number,
  // estimated_delivery, actual_delivery, cancellation_reason
  Json address = Json::object();
  if (!r[6].isNull()) address = Json::parse(r[6].asText(), nullptr, false);
  if (address.is_discarded()) address = Json::object();
  Json o{{"orderId", r[0].asText()},
         {"customerId", r[1].asText()},
         {"totalAmount", plexus::money::toJson(intOf(r[2]))},
         {"currency", r[3].isNull() ? std::string("USD") : r[3].asText()},
         {"status", r[4].asText()},
         {"itemCount", intOf(r[5])},
         {"shippingAddress", address},
         {"createdAt", plexus::rfc3339::format(intOf(r[7]))}};
  if (!r[8].isNull()) {
    Json p{{"paymentId", r[8].asText()},
           {"status", r[9].isNull() ? std::string("Captured") : r[9].asText()}};
    p["processedAt"] = r[10].isNull() ? Json() : Json(plexus::rfc3339::format(r[10].asInt()));
    o["paymentInfo"] = p;
  }
  if (!r[11].isNull()) {
    Json s{{"shipmentId", r[11].asText()},
           {"trackingNumber", r[12].isNull() ? Json() : Json(r[12].asText())},
           {"estimatedDelivery",
            r[13].isNull() ? Json() : Json(plexus::rfc3339::format(r[13].asInt()))}};
    if (!r[14].isNull()) s["actualDelivery"] = plexus::rfc3339::format(r[14].asInt());
    o["shipmentInfo"] = s;
  }
  if (r[4].asText() == "Cancelled" && !r[15].isNull()) o["cancellationReason"] = r[15].asText();
  return o;
}

}  // namespace

plexus::Response GetCustomer::handle(plexus::Context& ctx, const plexus::Request& req) {
  const std::string id = customerParam(req);
  const auto rows = ctx.sql(
      "SELECT customer_id, total_orders, total_spent_cents, currency, last_order_id, "
      "last_order_at, first_order_at FROM customers_activity WHERE customer_id = $1",
      id);
  if (rows.empty()) return plexus::Response::error(404, "customer not found");
  const auto& r = rows[0];
  return plexus::Response::json(200, Json{{"customerId", r[0].asText()},
                                          {"totalOrders", intOf(r[1])},
                                          {"totalSpent", plexus::money::toJson(intOf(r[2]))},
                                          {"currency", r[3].asText()},
                                          {"lastOrderId", r[4].asText()},
                                          {"lastOrderAt", plexus::rfc3339::format(intOf(r[5]))},
                                          {"firstOrderAt", plexus::rfc3339::format(intOf(r[6]))}});
}

plexus::Response GetCustomerOrders::handle(plexus::Context& ctx, const plexus::Request& req) {
  const std::string id = customerParam(req);
  long long limit = 100;
  if (auto l = req.query("limit")) {
    if (l->empty() || l->size() > 4 || l->find_first_not_of("0123456789") != std::string::npos) {
      throw plexus::BadRequest("limit must be an integer between 1 and 1000");
    }
    limit = std::stoll(*l);
    if (limit < 1 || limit > 1000) {
      throw plexus::BadRequest("limit must be an integer between 1 and 1000");
    }
  }
  const auto rows = ctx.sql(
      "SELECT order_id, customer_id, total_cents, currency, status, item_count, "
      "shipping_address, created_at, payment_id, payment_status, payment_processed_at, "
      "shipment_id, tracking_number, estimated_delivery, actual_delivery, cancellation_reason "
      "FROM customers_order_summary WHERE customer_id = $1 AND created = 1 "
      "ORDER BY created_at DESC, order_id DESC LIMIT $2",
      id, limit);
  Json out = Json::array();
  for (const auto& r : rows) out.push_back(summaryJson(r));
  return plexus::Response::json(200, out);
}

}  // namespace customers
