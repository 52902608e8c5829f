#include "shipping.hpp"

#include <cstdio>
#include <cstdlib>

namespace shipping {

using plexus::Json;

namespace {

constexpr const char* kCarrier = "FedEx-Sandbox";

bool nonEmptyString(const Json& body, const char* key) {
  return body.contains(key) && body[key].is_string() && !body[key].get<std::string>().empty();
}

// The stored shipment, re-emitted for a repeated CreateShipment.
const char* const kSelectShipment =
    "SELECT status, shipment_id, tracking_number, label_url, shipping_cost_cents, currency, "
    "estimated_delivery_ms, created_at_ms, failure_reason, carrier FROM shipping_shipments "
    "WHERE order_id = $1";

Json shipmentCreatedJson(const std::string& orderId, const std::string& shipmentId,
                         const std::string& trackingNumber, const std::string& labelUrl,
                         int64_t costCents, const std::string& currency, int64_t estimatedMs,
                         int64_t createdMs, const std::string& carrier) {
  return Json{{"orderId", orderId},
              {"shipmentId", shipmentId},
              {"carrier", carrier},
              {"trackingNumber", trackingNumber},
              {"labelUrl", labelUrl},
              {"shippingCost", centsToJson(costCents)},
              {"currency", currency},
              {"estimatedDelivery", formatRfc3339(estimatedMs)},
              {"createdAt", formatRfc3339(createdMs)}};
}

Json shipmentFailedJson(const std::string& orderId, const std::string& reason, int64_t failedMs) {
  return Json{{"orderId", orderId}, {"reason", reason}, {"failedAt", formatRfc3339(failedMs)}};
}

// Emits the event for a stored shipment row (kSelectShipment columns) and returns its payload.
Json reemit(plexus::Context& ctx, const std::string& orderId, const plexus::Row& r) {
  const std::string status = r.at(0).asText();
  if (status == "Failed") {
    Json e = shipmentFailedJson(orderId, r.at(8).isNull() ? "" : r.at(8).asText(), r.at(7).asInt());
    ctx.emit("ShipmentFailed", e, orderId);
    return Json{{"type", "ShipmentFailed"}, {"event", e}};
  }
  Json e = shipmentCreatedJson(orderId, r.at(1).asText(), r.at(2).asText(), r.at(3).asText(),
                               r.at(4).asInt(), r.at(5).asText(), r.at(6).asInt(), r.at(7).asInt(),
                               r.at(9).asText());
  ctx.emit("ShipmentCreated", e, orderId);
  return Json{{"type", "ShipmentCreated"}, {"event", e}};
}

}  // namespace

// The SDK's value helpers (plexus/sdk/money.hpp, rfc3339.hpp), under the names this plugin's
// code and tests use.
std::string formatRfc3339(int64_t unixMs) { return plexus::rfc3339::format(unixMs); }

std::optional<int64_t> parseRfc3339(const std::string& s) { return plexus::rfc3339::parse(s); }

std::optional<int64_t> parseMoneyCents(const Json& amount) {
  constexpr int64_t kMaxCents = 10'000'000'000'000;  // 10^11 of the currency
  try {
    return plexus::money::nonNegativeFromJson(amount, "amount", kMaxCents);
  } catch (const plexus::money::MoneyError&) {
    return std::nullopt;
  }
}

Json centsToJson(int64_t cents) { return plexus::money::toJson(cents); }

bool isOpaqueId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string trackingNumberFor(const std::string& shipmentId) {
  // The last 16 hex digits of a UUIDv7 hold its 62 random bits (and the fake host's counter).
  std::string hex;
  for (char c : shipmentId) {
    if (c != '-') hex.push_back(c);
  }
  const std::string tail = hex.size() > 16 ? hex.substr(hex.size() - 16) : hex;
  const unsigned long long v = std::strtoull(tail.c_str(), nullptr, 16);
  char buf[32];
  std::snprintf(buf, sizeof buf, "SBX%020llu", v);
  return buf;
}

CarrierOutcome sandboxCarrier(const std::string& zipCode, uint32_t attempt) {
  if (zipCode == "00000") {
    return {CarrierOutcome::Kind::Refused,
            "carrier refused the address (zip code 00000 is not serviceable)"};
  }
  if (zipCode == "99999" || (zipCode == "99998" && attempt <= 1)) {
    return {CarrierOutcome::Kind::Unavailable, "carrier temporarily unavailable"};
  }
  return {CarrierOutcome::Kind::Created, {}};
}

std::string validateCreateShipment(const Json& body) {
  if (!body.is_object()) return "payload must be a JSON object";
  if (!body.contains("orderId") || !body["orderId"].is_string() ||
      !isOpaqueId(body["orderId"].get<std::string>())) {
    return "orderId must be a string id";
  }
  if (!body.contains("customerId") || !body["customerId"].is_string() ||
      !isOpaqueId(body["customerId"].get<std::string>())) {
    return "customerId must be 1-64 characters of [A-Za-z0-9._-]";
  }
  if (!body.contains("shippingAddress") || !body["shippingAddress"].is_object()) {
    return "shippingAddress must be an object";
  }
  const Json& a = body["shippingAddress"];
  for (const char* field : {"street", "city", "state", "zipCode", "country"}) {
    if (!nonEmptyString(a, field)) {
      return std::string("shippingAddress.") + field + " must be a non-empty string";
    }
  }
  return {};
}

TrackingUpdate parseTrackingUpdate(const Json& body) {
  if (!body.is_object()) throw plexus::BadRequest("body must be a JSON object");
  auto text = [&](const char* key, bool allowEmpty, size_t max) {
    if (!body.contains(key)) throw plexus::BadRequest(std::string(key) + " is required");
    if (!body[key].is_string()) throw plexus::BadRequest(std::string(key) + " must be a string");
    std::string v = body[key].get<std::string>();
    if (!allowEmpty && v.empty()) throw plexus::BadRequest(std::string(key) + " must not be empty");
    if (v.size() > max) throw plexus::BadRequest(std::string(key) + " is too long");
    return v;
  };
  TrackingUpdate u;
  u.trackingNumber = text("trackingNumber", false, 64);
  u.status = text("status", false, 64);
  u.location = text("location", true, 256);
  const std::string ts = text("timestamp", false, 64);
  const auto ms = parseRfc3339(ts);
  if (!ms) throw plexus::BadRequest("timestamp must be an RFC 3339 date-time");
  u.timestampMs = *ms;
  return u;
}

// ---- CreateShipmentReceptor ----

CreateShipmentReceptor::CreateShipmentReceptor(plexus::Host& host)
    : shipments_(host.counter("shipping_shipments_total",
                              "CreateShipment outcomes: a shipment created or failed.",
                              {"outcome"})) {
  const Json cfg = host.config();
  const Json cost = cfg.value("shipping_cost", Json(9.99));
  const auto cents = parseMoneyCents(cost);
  if (!cents) throw std::invalid_argument("config shipping_cost must be money (>= 0, 2 decimals)");
  shippingCostCents_ = *cents;
  currency_ = cfg.value("currency", std::string("USD"));
  if (currency_.size() != 3)
    throw std::invalid_argument("config currency must be an ISO 4217 code");
  const int64_t attempts = cfg.value("max_carrier_attempts", int64_t{3});
  if (attempts < 1 || attempts > 100) {
    throw std::invalid_argument("config max_carrier_attempts must be 1-100");
  }
  maxCarrierAttempts_ = static_cast<uint32_t>(attempts);
  deliveryDays_ = cfg.value("estimated_delivery_days", int64_t{3});
  if (deliveryDays_ < 0 || deliveryDays_ > 365) {
    throw std::invalid_argument("config estimated_delivery_days must be 0-365");
  }
}

plexus::Result CreateShipmentReceptor::handle(plexus::Context& ctx, const plexus::Message& cmd) {
  const Json body = cmd.json();
  if (!body.is_object() || !body.contains("orderId") || !body["orderId"].is_string() ||
      !isOpaqueId(body["orderId"].get<std::string>())) {
    return plexus::reject("CreateShipment: orderId must be a string id");
  }
  const std::string orderId = body["orderId"].get<std::string>();

  // One shipment per order: a repeated command answers with what happened the first time.
  const auto existing = ctx.sql(kSelectShipment, orderId);
  if (!existing.empty()) return plexus::ok(reemit(ctx, orderId, existing.front()).dump());

  const int64_t now = ctx.nowMs();
  auto fail = [&](const std::string& reason) {
    const std::string customerId = body.contains("customerId") && body["customerId"].is_string()
                                       ? body["customerId"].get<std::string>()
                                       : std::string();
    const std::string address =
        body.contains("shippingAddress") ? body["shippingAddress"].dump() : std::string("null");
    const int64_t n = ctx.exec(
        "INSERT INTO shipping_shipments (order_id, customer_id, status, carrier, shipping_address, "
        "failure_reason, created_at_ms, updated_at_ms) VALUES ($1, $2, 'Failed', $3, $4, $5, $6, "
        "$7) "
        "ON CONFLICT (order_id) DO NOTHING",
        orderId, customerId, kCarrier, address, reason, now, now);
    if (n == 0) {
      const auto again = ctx.sql(kSelectShipment, orderId);
      if (!again.empty()) return plexus::ok(reemit(ctx, orderId, again.front()).dump());
    }
    const Json e = shipmentFailedJson(orderId, reason, now);
    ctx.emit("ShipmentFailed", e, orderId);
    ctx.afterCommit([this] { shipments_.increment({"failed"}); });
    ctx.log(plexus::LogLevel::Warn, "shipment for order " + orderId + " failed: " + reason);
    return plexus::ok(Json{{"type", "ShipmentFailed"}, {"event", e}}.dump());
  };

  const std::string invalid = validateCreateShipment(body);
  if (!invalid.empty()) return fail("invalid CreateShipment: " + invalid);

  const Json& address = body["shippingAddress"];
  const CarrierOutcome outcome =
      sandboxCarrier(address["zipCode"].get<std::string>(), cmd.attempt());
  if (outcome.kind == CarrierOutcome::Kind::Refused) return fail(outcome.reason);
  if (outcome.kind == CarrierOutcome::Kind::Unavailable) {
    if (cmd.attempt() < maxCarrierAttempts_) return plexus::retry(outcome.reason);
    return fail(outcome.reason + " after the retry budget (" + std::to_string(cmd.attempt()) +
                " attempts)");
  }

  const std::string shipmentId = ctx.newId();
  const std::string tracking = trackingNumberFor(shipmentId);
  const std::string labelUrl = "https://sandbox.fedex.example/labels/" + tracking + ".pdf";
  const int64_t estimated = now + deliveryDays_ * plexus::rfc3339::kDayMs;
  const int64_t n = ctx.exec(
      "INSERT INTO shipping_shipments (order_id, shipment_id, customer_id, status, carrier, "
      "tracking_number, label_url, shipping_cost_cents, currency, estimated_delivery_ms, "
      "shipping_address, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, 'Created', $4, $5, $6, "
      "$7, $8, $9, $10, $11, $12) ON CONFLICT (order_id) DO NOTHING",
      orderId, shipmentId, body["customerId"].get<std::string>(), kCarrier, tracking, labelUrl,
      shippingCostCents_, currency_, estimated, address.dump(), now, now);
  if (n == 0) {  // created concurrently: answer with the stored one
    const auto again = ctx.sql(kSelectShipment, orderId);
    if (!again.empty()) return plexus::ok(reemit(ctx, orderId, again.front()).dump());
  }
  const Json e = shipmentCreatedJson(orderId, shipmentId, tracking, labelUrl, shippingCostCents_,
                                     currency_, estimated, now, kCarrier);
  ctx.emit("ShipmentCreated", e, orderId);
  ctx.afterCommit([this] { shipments_.increment({"created"}); });
  return plexus::ok(Json{{"type", "ShipmentCreated"}, {"event", e}}.dump());
}

// ---- FedexTrackingWebhook ----

FedexTrackingWebhook::FedexTrackingWebhook(plexus::Host& host)
    : verifier_(host),
      delivered_(host.counter("shipping_deliveries_total",
                              "Shipments confirmed delivered by a carrier webhook.")) {}

plexus::Response FedexTrackingWebhook::handle(plexus::Context& ctx, const plexus::Request& req) {
  if (auto refused = verifier_.refuse(req, ctx.nowMs())) return *refused;  // before any parsing
  const TrackingUpdate u = parseTrackingUpdate(req.json());
  const auto rows =
      ctx.sql("SELECT order_id, shipment_id FROM shipping_shipments WHERE tracking_number = $1",
              u.trackingNumber);
  if (rows.empty()) return plexus::Response::error(404, "unknown tracking number");
  const std::string orderId = rows.front().at(0).asText();
  const std::string shipmentId = rows.front().at(1).asText();
  const int64_t now = ctx.nowMs();

  // A carrier re-sending the same update records it once.
  const int64_t recorded = ctx.exec(
      "INSERT INTO shipping_tracking_events (event_id, tracking_number, shipment_id, order_id, "
      "status, location, event_at_ms, received_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
      "ON CONFLICT (tracking_number, status, location, event_at_ms) DO NOTHING",
      ctx.newId(), u.trackingNumber, shipmentId, orderId, u.status, u.location, u.timestampMs, now);

  bool deliveredNow = false;
  if (u.status == "Delivered") {
    // Only the first Delivered update flips the shipment and emits ShipmentDelivered.
    deliveredNow = ctx.exec(
                       "UPDATE shipping_shipments SET status = 'Delivered', delivered_at_ms = $1, "
                       "updated_at_ms = $2 WHERE tracking_number = $3 AND delivered_at_ms IS NULL",
                       u.timestampMs, now, u.trackingNumber) > 0;
    if (deliveredNow) {
      ctx.emit("ShipmentDelivered",
               Json{{"orderId", orderId},
                    {"shipmentId", shipmentId},
                    {"trackingNumber", u.trackingNumber},
                    {"deliveredAt", formatRfc3339(u.timestampMs)}},
               orderId);
      ctx.afterCommit([this] { delivered_.increment(); });
    }
  }
  return plexus::Response::json(200, Json{{"trackingNumber", u.trackingNumber},
                                          {"orderId", orderId},
                                          {"shipmentId", shipmentId},
                                          {"status", u.status},
                                          {"recorded", recorded > 0},
                                          {"shipmentDelivered", deliveredNow}});
}

}  // namespace shipping
