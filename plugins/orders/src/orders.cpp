#include "orders.hpp"

#include <cctype>
#include <cstdio>

namespace orders {
namespace {

bool isBlank(const std::string& s) {
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool present(const Json& body, const char* key) {
  return body.contains(key) && !body[key].is_null();
}

// An optional string field: absent or null -> `fallback`; present but not a string -> error.
std::string optionalString(const Json& body, const char* key, const std::string& fallback) {
  if (!present(body, key)) return fallback;
  if (!body[key].is_string()) throw plexus::BadRequest(std::string(key) + " must be a string");
  return body[key].get<std::string>();
}

std::string stringOr(const Json& obj, const char* key, const std::string& fallback = {}) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_string()) {
    return obj[key].get<std::string>();
  }
  return fallback;
}

Json orNull(const Json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key)) return obj[key];
  return nullptr;
}

// Sets obj[key] = value when obj has no such key yet and value is a non-empty string.
bool setIfAbsent(Json& obj, const char* key, const Json& value) {
  if (obj.contains(key) || !value.is_string() || value.get<std::string>().empty()) return false;
  obj[key] = value;
  return true;
}

// Copies the string fields `keys` of `payload` into state[group] (creating it), first value wins.
bool mergeGroup(Json& state, const char* group, const Json& payload,
                std::initializer_list<std::pair<const char*, const char*>> keys) {
  bool changed = false;
  if (!state.contains(group)) {
    state[group] = Json::object();
    changed = true;
  }
  for (const auto& [to, from] : keys)
    changed |= setIfAbsent(state[group], to, orNull(payload, from));
  return changed;
}

plexus::Result replay(const std::string& document) {
  Json doc = Json::parse(document);
  doc["idempotentReplay"] = true;
  return plexus::ok(doc.dump());
}

// The order id of a message: the payload's "orderId" (must agree with the stream when both are
// given), else the stream. Empty when neither is usable.
std::string messageOrderId(const Json& body, const plexus::Message& m, std::string& error) {
  const std::string stream(m.stream());
  if (present(body, "orderId")) {
    if (!body["orderId"].is_string()) {
      error = "orderId must be a string";
      return {};
    }
    const std::string id = body["orderId"].get<std::string>();
    if (!stream.empty() && stream != id) {
      error = "orderId " + id + " does not match the stream " + stream;
      return {};
    }
    return id;
  }
  if (stream.empty()) error = "orderId is required";
  return stream;
}

}  // namespace

// ---- helpers ----

int64_t parseMoneyCents(const Json& v, const std::string& field, int64_t maxCents) {
  try {
    return plexus::money::nonNegativeFromJson(v, field, maxCents);
  } catch (const plexus::money::MoneyError& e) {
    throw plexus::BadRequest(e.what());
  }
}

bool isValidExternalId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

bool isCurrencyCode(const std::string& s) {
  return s.size() == 3 && std::isupper(static_cast<unsigned char>(s[0])) &&
         std::isupper(static_cast<unsigned char>(s[1])) &&
         std::isupper(static_cast<unsigned char>(s[2]));
}

void validateIdempotencyKey(const std::string& key) {
  if (key.empty() || key.size() > kMaxIdempotencyKey) {
    throw plexus::BadRequest("idempotencyKey must be 1-128 characters");
  }
}

OrderRequest validateCreateOrder(const Json& body) {
  if (!body.is_object()) throw plexus::BadRequest("request body must be a JSON object");
  OrderRequest r;

  if (!present(body, "customerId")) throw plexus::BadRequest("customerId is required");
  if (!body["customerId"].is_string()) throw plexus::BadRequest("customerId must be a string");
  r.customerId = body["customerId"].get<std::string>();
  if (!isValidExternalId(r.customerId)) {
    throw plexus::BadRequest("customerId must be 1-64 characters of [A-Za-z0-9._-]");
  }

  if (!present(body, "items")) throw plexus::BadRequest("items is required");
  const Json& items = body["items"];
  if (!items.is_array()) throw plexus::BadRequest("items must be an array");
  if (items.empty()) throw plexus::BadRequest("items must not be empty");
  if (items.size() > kMaxItems) {
    throw plexus::BadRequest("items must have at most " + std::to_string(kMaxItems) + " lines");
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string at = "items[" + std::to_string(i) + "]";
    const Json& it = items[i];
    if (!it.is_object()) throw plexus::BadRequest(at + " must be an object");
    OrderLine line;
    if (!present(it, "productId")) throw plexus::BadRequest(at + ".productId is required");
    if (!it["productId"].is_string()) throw plexus::BadRequest(at + ".productId must be a string");
    line.productId = it["productId"].get<std::string>();
    if (!isValidExternalId(line.productId)) {
      throw plexus::BadRequest(at + ".productId must be 1-64 characters of [A-Za-z0-9._-]");
    }
    if (!present(it, "quantity")) throw plexus::BadRequest(at + ".quantity is required");
    const Json& q = it["quantity"];
    if (!q.is_number_integer()) throw plexus::BadRequest(at + ".quantity must be an integer");
    if (q.is_number_unsigned() ? q.get<uint64_t>() > static_cast<uint64_t>(kMaxQuantity)
                               : q.get<int64_t>() > kMaxQuantity) {
      throw plexus::BadRequest(at + ".quantity must be at most " + std::to_string(kMaxQuantity));
    }
    line.quantity = q.get<int64_t>();
    if (line.quantity < 1) throw plexus::BadRequest(at + ".quantity must be >= 1");
    if (!present(it, "unitPrice")) throw plexus::BadRequest(at + ".unitPrice is required");
    line.unitPriceCents = parseMoneyCents(it["unitPrice"], at + ".unitPrice", kMaxUnitPriceCents);
    line.lineTotalCents = line.unitPriceCents * line.quantity;  // <= 1e16: no overflow
    r.totalCents += line.lineTotalCents;                        // <= 1e18: no overflow
    r.items.push_back(std::move(line));
  }

  if (!present(body, "shippingAddress")) throw plexus::BadRequest("shippingAddress is required");
  const Json& a = body["shippingAddress"];
  if (!a.is_object()) throw plexus::BadRequest("shippingAddress must be an object");
  const std::pair<const char*, std::string*> fields[] = {{"street", &r.shippingAddress.street},
                                                         {"city", &r.shippingAddress.city},
                                                         {"state", &r.shippingAddress.state},
                                                         {"zipCode", &r.shippingAddress.zipCode},
                                                         {"country", &r.shippingAddress.country}};
  for (const auto& [name, out] : fields) {
    const std::string at = std::string("shippingAddress.") + name;
    if (!present(a, name)) throw plexus::BadRequest(at + " is required");
    if (!a[name].is_string()) throw plexus::BadRequest(at + " must be a string");
    *out = a[name].get<std::string>();
    if (isBlank(*out)) throw plexus::BadRequest(at + " must not be empty");
    if (out->size() > 200) throw plexus::BadRequest(at + " must be at most 200 characters");
  }

  r.currency = optionalString(body, "currency", "USD");
  if (!isCurrencyCode(r.currency)) {
    throw plexus::BadRequest("currency must be an ISO 4217 code of 3 uppercase letters");
  }
  r.paymentMethod = optionalString(body, "paymentMethod", "card");
  if (!isValidExternalId(r.paymentMethod)) {
    throw plexus::BadRequest("paymentMethod must be 1-64 characters of [A-Za-z0-9._-]");
  }
  r.customerEmail = optionalString(body, "customerEmail", r.customerId + "@example.com");
  {
    const std::string& em = r.customerEmail;
    const size_t at = em.find('@');
    bool ok = em.size() <= 254 && at != std::string::npos && at > 0 && at + 1 < em.size() &&
              em.find('@', at + 1) == std::string::npos;
    for (char c : em) ok = ok && c > ' ' && c < 127;
    if (!ok) throw plexus::BadRequest("customerEmail must be an email address");
  }
  r.customerPhone = optionalString(body, "customerPhone", kSandboxPhone);
  {
    const std::string& ph = r.customerPhone;
    int digits = 0;
    bool ok = !ph.empty() && ph.size() <= 32;
    for (char c : ph) {
      if (std::isdigit(static_cast<unsigned char>(c))) {
        ++digits;
      } else if (c != '+' && c != '-' && c != ' ' && c != '(' && c != ')' && c != '.') {
        ok = false;
      }
    }
    if (!ok || digits < 3) throw plexus::BadRequest("customerPhone must be a phone number");
  }
  if (present(body, "idempotencyKey")) {
    r.idempotencyKey = optionalString(body, "idempotencyKey", "");
    validateIdempotencyKey(r.idempotencyKey);
  }
  return r;
}

Json buildOrderCreated(const OrderRequest& r, const std::string& orderId, int64_t createdAtMs) {
  Json items = Json::array();
  for (const auto& l : r.items) {
    items.push_back(Json{{"productId", l.productId},
                         {"quantity", l.quantity},
                         {"unitPrice", plexus::money::toJson(l.unitPriceCents)},
                         {"lineTotal", plexus::money::toJson(l.lineTotalCents)}});
  }
  return Json{{"orderId", orderId},
              {"customerId", r.customerId},
              {"items", items},
              {"shippingAddress", Json{{"street", r.shippingAddress.street},
                                       {"city", r.shippingAddress.city},
                                       {"state", r.shippingAddress.state},
                                       {"zipCode", r.shippingAddress.zipCode},
                                       {"country", r.shippingAddress.country}}},
              {"totalAmount", plexus::money::toJson(r.totalCents)},
              {"currency", r.currency},
              {"paymentMethod", r.paymentMethod},
              {"customerEmail", r.customerEmail},
              {"customerPhone", r.customerPhone},
              {"createdAt", plexus::rfc3339::format(createdAtMs)}};
}

// ---- read model ----

bool applyViewEvent(Json& state, const std::string& type, const Json& p) {
  if (!state.is_object()) state = Json::object();
  if (!p.is_object()) return false;
  if (type == "OrderCreated") {
    if (state.contains("created")) return false;  // the first OrderCreated wins
    int64_t itemCount = 0;
    if (p.contains("items") && p["items"].is_array()) {
      for (const auto& it : p["items"]) {
        if (it.is_object() && it.contains("quantity") && it["quantity"].is_number_integer()) {
          itemCount += it["quantity"].get<int64_t>();
        }
      }
    }
    const int64_t total = p.contains("totalAmount")
                              ? parseMoneyCents(p["totalAmount"], "totalAmount", INT64_MAX / 1000)
                              : 0;
    state["created"] = Json{
        {"customerId", stringOr(p, "customerId")},         {"totalAmount", total},
        {"currency", stringOr(p, "currency", "USD")},      {"itemCount", itemCount},
        {"shippingAddress", orNull(p, "shippingAddress")}, {"createdAt", orNull(p, "createdAt")}};
    return true;
  }
  if (type == "PaymentProcessed") {
    return mergeGroup(
        state, "payment", p,
        {{"paymentId", "paymentId"}, {"status", "status"}, {"processedAt", "processedAt"}});
  }
  if (type == "ShipmentCreated") {
    return mergeGroup(state, "shipment", p,
                      {{"shipmentId", "shipmentId"},
                       {"trackingNumber", "trackingNumber"},
                       {"estimatedDelivery", "estimatedDelivery"}});
  }
  if (type == "ShipmentDelivered") {
    bool changed = mergeGroup(state, "shipment", p,
                              {{"shipmentId", "shipmentId"}, {"trackingNumber", "trackingNumber"}});
    changed |= mergeGroup(state, "delivery", p, {{"actualDelivery", "deliveredAt"}});
    return changed;
  }
  if (type == "OrderCancelled") {
    return mergeGroup(state, "cancellation", p,
                      {{"reason", "reason"}, {"cancelledAt", "cancelledAt"}});
  }
  return false;
}

std::string viewStatus(const Json& state) {
  if (state.contains("delivery")) return "Delivered";
  if (state.contains("cancellation")) return "Cancelled";
  if (state.contains("shipment")) return "Shipped";
  if (state.contains("payment")) return "PaymentProcessed";
  return "Pending";
}

Json viewSummary(const std::string& orderId, const Json& state) {
  const Json& c = state.at("created");
  Json out{{"orderId", orderId},
           {"customerId", c.value("customerId", "")},
           {"totalAmount", plexus::money::toJson(c.value("totalAmount", int64_t{0}))},
           {"currency", c.value("currency", "USD")},
           {"status", viewStatus(state)},
           {"itemCount", c.value("itemCount", int64_t{0})},
           {"shippingAddress", orNull(c, "shippingAddress")},
           {"createdAt", orNull(c, "createdAt")}};
  if (state.contains("payment")) {
    const Json& p = state["payment"];
    out["paymentInfo"] = Json{{"paymentId", orNull(p, "paymentId")},
                              {"status", orNull(p, "status")},
                              {"processedAt", orNull(p, "processedAt")}};
  }
  if (state.contains("shipment") || state.contains("delivery")) {
    const Json s = state.value("shipment", Json::object());
    Json info{{"shipmentId", orNull(s, "shipmentId")},
              {"trackingNumber", orNull(s, "trackingNumber")},
              {"estimatedDelivery", orNull(s, "estimatedDelivery")}};
    if (state.contains("delivery"))
      info["actualDelivery"] = orNull(state["delivery"], "actualDelivery");
    out["shipmentInfo"] = info;
  }
  if (state.contains("cancellation")) {
    out["cancellationReason"] = orNull(state["cancellation"], "reason");
  }
  return out;
}

bool upsertView(plexus::Context& ctx, const std::string& orderId, const std::string& type,
                const Json& payload, int64_t atMs) {
  const plexus::Rows rows =
      ctx.sql("SELECT document, version FROM orders_view WHERE order_id = $1", orderId);
  Json state = rows.empty() ? Json::object() : Json::parse(rows[0][0].asText());
  if (!applyViewEvent(state, type, payload) && !rows.empty()) return false;
  const plexus::Value customer = state.contains("created")
                                     ? plexus::Value(state["created"].value("customerId", ""))
                                     : plexus::Value();
  if (rows.empty()) {
    const int64_t n = ctx.exec(
        "INSERT INTO orders_view (order_id, customer_id, status, document, version, updated_at) "
        "VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (order_id) DO NOTHING",
        orderId, customer, viewStatus(state), state.dump(), atMs);
    if (n != 1)
      throw plexus::TransientError("orders_view row of " + orderId + " written concurrently");
    return true;
  }
  const int64_t n = ctx.exec(
      "UPDATE orders_view SET customer_id = $1, status = $2, document = $3, version = version + 1, "
      "updated_at = $4 WHERE order_id = $5 AND version = $6",
      customer, viewStatus(state), state.dump(), atMs, orderId, rows[0][1].asInt());
  if (n != 1)
    throw plexus::TransientError("orders_view row of " + orderId + " written concurrently");
  return true;
}

// ---- CreateOrder ----

CreateOrder::CreateOrder(plexus::Host& host)
    : created_(host.counter("orders_created_total", "Orders created (new orders only).")) {}

plexus::Result CreateOrder::handle(plexus::Context& ctx, const plexus::Message& m) {
  const Json body = m.json();
  if (!body.is_object()) return plexus::reject("CreateOrder payload must be a JSON object");
  std::string error;
  const std::string orderId = messageOrderId(body, m, error);
  if (!error.empty()) return plexus::reject(error);
  if (!plexus::uuid::valid(orderId)) return plexus::reject("orderId must be a UUID");
  const OrderRequest r = validateCreateOrder(body);  // BadRequest -> REJECT with its message

  // Idempotency: the same key, or the same order delivered again, answers the stored order.
  auto existing = [&]() -> plexus::Rows {
    if (!r.idempotencyKey.empty()) {
      plexus::Rows byKey = ctx.sql("SELECT document FROM orders_orders WHERE idempotency_key = $1",
                                   r.idempotencyKey);
      if (!byKey.empty()) return byKey;
    }
    return ctx.sql("SELECT document FROM orders_orders WHERE order_id = $1", orderId);
  };
  if (const plexus::Rows rows = existing(); !rows.empty()) return replay(rows[0][0].asText());

  const Json event = buildOrderCreated(r, orderId, ctx.nowMs());
  const int64_t inserted = ctx.exec(
      "INSERT INTO orders_orders (order_id, customer_id, status, total_cents, currency, document, "
      "idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
      orderId, r.customerId, "Pending", r.totalCents, r.currency, event.dump(),
      r.idempotencyKey.empty() ? plexus::Value() : plexus::Value(r.idempotencyKey), ctx.nowMs());
  if (inserted != 1) {
    // A concurrent request with the same key (or id) committed first.
    if (const plexus::Rows rows = existing(); !rows.empty()) return replay(rows[0][0].asText());
    throw plexus::TransientError("order " + orderId + " conflicted with a concurrent insert");
  }
  // OrderView projects it inline, in this transaction: GET right after POST answers 200.
  ctx.emit("OrderCreated", event, orderId);
  ctx.afterCommit([this] { created_.increment(); });
  return plexus::ok(event.dump());
}

// ---- CancelOrder ----

plexus::Result CancelOrder::handle(plexus::Context& ctx, const plexus::Message& m) {
  const Json body = m.json();
  if (!body.is_object()) return plexus::reject("CancelOrder payload must be a JSON object");
  std::string error;
  const std::string orderId = messageOrderId(body, m, error);
  if (!error.empty()) return plexus::reject(error);
  std::string reason = optionalString(body, "reason", "");  // BadRequest -> REJECT
  if (reason.empty()) reason = "No reason given";

  const int64_t now = ctx.nowMs();
  const int64_t changed = ctx.exec(
      "UPDATE orders_orders SET status = $1, cancel_reason = $2, cancelled_at = $3 "
      "WHERE order_id = $4 AND status <> $1",
      "Cancelled", reason, now, orderId);
  if (changed == 0) {
    if (ctx.sql("SELECT status FROM orders_orders WHERE order_id = $1", orderId).empty()) {
      return plexus::reject("unknown order " + orderId);
    }
    return plexus::ok(
        Json{{"orderId", orderId}, {"status", "Cancelled"}, {"alreadyCancelled", true}}.dump());
  }
  ctx.emit(
      "OrderCancelled",
      Json{{"orderId", orderId}, {"reason", reason}, {"cancelledAt", plexus::rfc3339::format(now)}},
      orderId);
  return plexus::ok(
      Json{{"orderId", orderId}, {"status", "Cancelled"}, {"alreadyCancelled", false}}.dump());
}

// ---- OrderView ----

plexus::Result OrderView::handle(plexus::Context& ctx, const plexus::Message& e) {
  const Json body = e.json();
  if (!body.is_object())
    return plexus::reject(std::string(e.type()) + " payload must be an object");
  std::string orderId = stringOr(body, "orderId");
  if (orderId.empty()) orderId = std::string(e.stream());
  if (orderId.empty()) return plexus::reject("event without orderId");
  // The event's time, not the clock's: a rebuild writes the same row (plugin guide §14).
  upsertView(ctx, orderId, std::string(e.type()), body, e.timestampMs());  // BadRequest -> REJECT
  return plexus::ok();
}

// ---- routes ----

plexus::Response PostOrder::handle(plexus::Context& ctx, const plexus::Request& req) {
  Json body = req.json();  // malformed -> 400
  if (!body.is_object()) throw plexus::BadRequest("request body must be a JSON object");
  if (const auto header = req.header("Idempotency-Key")) {
    validateIdempotencyKey(*header);
    if (present(body, "idempotencyKey")) {
      if (!body["idempotencyKey"].is_string()) {
        throw plexus::BadRequest("idempotencyKey must be a string");
      }
      if (body["idempotencyKey"].get<std::string>() != *header) {
        throw plexus::BadRequest("Idempotency-Key header and idempotencyKey field differ");
      }
    }
    body["idempotencyKey"] = *header;
  }
  validateCreateOrder(body);  // BadRequest -> 400 with its message
  const std::string orderId = ctx.newId();
  body["orderId"] = orderId;
  const plexus::Result r = ctx.invoke("CreateOrder", body, orderId);
  if (r.status == plexus::Status::Retry) {
    return plexus::Response::error(503, "temporarily unavailable, retry later");
  }
  if (r.status != plexus::Status::Ok) {
    // The body passed the same validation the receptor runs, so this is not the client's fault.
    ctx.log(plexus::LogLevel::Error, "CreateOrder failed: " + r.detail);
    return plexus::Response::error(500, "internal error");
  }
  Json order = Json::parse(r.detail);
  const bool replayed = order.value("idempotentReplay", false);
  order.erase("idempotentReplay");
  const std::string id = order.value("orderId", orderId);
  return plexus::Response::json(replayed ? 200 : 201, order)
      .header("Location", "/api/orders/" + id);
}

plexus::Response GetOrder::handle(plexus::Context& ctx, const plexus::Request& req) {
  const std::string id = req.param("id").value_or("");
  const plexus::Rows rows = ctx.sql("SELECT document FROM orders_view WHERE order_id = $1", id);
  if (rows.empty()) return plexus::Response::error(404, "order not found");
  const Json state = Json::parse(rows[0][0].asText());
  // A partial row (events seen before OrderCreated) is not yet a known order.
  if (!state.contains("created")) return plexus::Response::error(404, "order not found");
  return plexus::Response::json(200, viewSummary(id, state));
}

}  // namespace orders
