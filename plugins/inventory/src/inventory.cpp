#include "inventory.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace inventory {

using plexus::BadRequest;
using plexus::Json;

bool validId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<int64_t> intIn(const Json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) return std::nullopt;
    const auto i = static_cast<int64_t>(u);
    if (i < lo) return std::nullopt;
    return i;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < lo || i > hi) return std::nullopt;
    return i;
  }
  return std::nullopt;
}

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

struct Product {
  std::string productId;
  int64_t available = 0;
  int64_t reserved = 0;
  int64_t updatedAt = 0;
};

std::optional<Product> loadProduct(plexus::Context& ctx, const std::string& productId) {
  const plexus::Rows rows = ctx.sql(sql::kSelectProduct, productId);
  if (rows.empty()) return std::nullopt;
  const plexus::Row& r = rows.front();
  return Product{r.at(0).asText(), r.at(1).asInt(), r.at(2).asInt(), r.at(3).asInt()};
}

Json productJson(const Product& p) {
  return Json{{"productId", p.productId},
              {"availableStock", p.available},
              {"reservedStock", p.reserved},
              {"updatedAt", plexus::rfc3339::format(p.updatedAt)}};
}

struct Reservation {
  std::string productId;
  int64_t quantity;
  std::string status;
};

std::vector<Reservation> loadReservations(plexus::Context& ctx, const std::string& orderId) {
  std::vector<Reservation> out;
  for (const auto& r : ctx.sql(sql::kSelectReservations, orderId)) {
    out.push_back(Reservation{r.at(0).asText(), r.at(1).asInt(), r.at(2).asText()});
  }
  return out;
}

int64_t expiryFromConfig(const Json& cfg) {
  if (!cfg.contains("expiry_seconds")) return 900;
  Json value = cfg["expiry_seconds"];
  if (value.is_string()) {  // "${VAR:-900}" from the host config arrives as a string
    const std::string text = value.get<std::string>();
    value = Json::parse(text, nullptr, false);
    if (!value.is_number_integer())
      throw std::invalid_argument("config expiry_seconds must be an integer");
  }
  const auto v = intIn(value, 1, 365LL * 24 * 3600);
  if (!v) throw std::invalid_argument("config expiry_seconds must be an integer in 1..31536000");
  return *v;
}

}  // namespace

ReserveRequest parseReserve(const Json& body) {
  if (!body.is_object()) throw BadRequest("payload must be a JSON object");
  ReserveRequest r;
  r.orderId = requireId(body, "orderId");
  if (!body.contains("items") || !body["items"].is_array() || body["items"].empty()) {
    throw BadRequest("\"items\" must be a non-empty array");
  }
  std::map<std::string, size_t> index;
  for (const Json& item : body["items"]) {
    if (!item.is_object()) throw BadRequest("every item must be an object");
    std::string pid = requireId(item, "productId");
    const auto q = item.contains("quantity") ? intIn(item["quantity"], 1, kMaxQuantity)
                                             : std::optional<int64_t>();
    if (!q) {
      throw BadRequest("\"quantity\" must be an integer in 1.." + std::to_string(kMaxQuantity));
    }
    auto it = index.find(pid);
    if (it == index.end()) {
      index.emplace(pid, r.items.size());
      r.items.push_back(Line{std::move(pid), *q});
    } else {
      r.items[it->second].quantity += *q;
    }
  }
  return r;
}

RestockRequest parseRestock(const Json& body) {
  if (!body.is_object()) throw BadRequest("payload must be a JSON object");
  RestockRequest r;
  r.productId = requireId(body, "productId");
  const bool hasSet = body.contains("availableStock");
  const bool hasAdd = body.contains("quantityToAdd");
  if (hasSet == hasAdd) {
    throw BadRequest("exactly one of \"availableStock\" and \"quantityToAdd\" is required");
  }
  r.absolute = hasSet;
  const auto v = hasSet ? intIn(body["availableStock"], 0, kMaxStock)
                        : intIn(body["quantityToAdd"], 1, kMaxStock);
  if (!v) {
    throw BadRequest(
        hasSet ? "\"availableStock\" must be an integer in 0.." + std::to_string(kMaxStock)
               : "\"quantityToAdd\" must be an integer in 1.." + std::to_string(kMaxStock));
  }
  r.quantity = *v;
  return r;
}

// ---- ReserveInventory ----

ReserveInventory::ReserveInventory(plexus::Host& host)
    : expirySeconds_(expiryFromConfig(host.config())),
      outcomes_(host.counter("inventory_reservations_total",
                             "Inventory reservation outcomes (reserved, insufficient, released, "
                             "expired, committed).",
                             {"outcome"})) {}

plexus::Result ReserveInventory::handle(plexus::Context& ctx, const plexus::Message& msg) {
  const ReserveRequest req = parseReserve(msg.json());
  const std::string stream = req.orderId;

  // Already decided for this order (redelivery or a second command): the same outcome again.
  const plexus::Rows prior = ctx.sql(sql::kSelectOutcome, req.orderId);
  if (!prior.empty()) {
    const std::string type =
        prior.front().at(0).asText() == "Reserved" ? "InventoryReserved" : "InventoryInsufficient";
    ctx.emit(type, Json::parse(prior.front().at(1).asText()), stream);
    return plexus::ok(Json{{"outcome", prior.front().at(0).asText()}, {"repeated", true}}.dump());
  }

  const int64_t now = ctx.nowMs();
  // Lock rows in a stable order (product id) so that concurrent orders cannot deadlock.
  std::vector<const Line*> order;
  for (const Line& l : req.items) order.push_back(&l);
  std::sort(order.begin(), order.end(),
            [](const Line* a, const Line* b) { return a->productId < b->productId; });

  std::vector<const Line*> done;
  for (const Line* l : order) {
    const int64_t n =
        ctx.exec(sql::kReserveStock, l->quantity, l->quantity, now, l->productId, l->quantity);
    if (n == 1) {
      done.push_back(l);
      continue;
    }
    // Not enough (or unknown product = stock 0): undo this transaction's lines, answer.
    for (const Line* d : done) {
      ctx.exec(sql::kReturnStock, d->quantity, d->quantity, now, d->productId);
    }
    const auto p = loadProduct(ctx, l->productId);
    const Json event{{"orderId", req.orderId},
                     {"productId", l->productId},
                     {"requestedQuantity", l->quantity},
                     {"availableStock", p ? p->available : 0},
                     {"checkedAt", plexus::rfc3339::format(now)}};
    ctx.exec(sql::kInsertOutcome, req.orderId, "Insufficient", event.dump(), now);
    ctx.emit("InventoryInsufficient", event, stream);
    ctx.afterCommit([this] { outcomes_.increment({"insufficient"}); });
    return plexus::ok(Json{{"outcome", "Insufficient"}, {"repeated", false}}.dump());
  }

  const int64_t expiresAt = now + expirySeconds_ * 1000;
  Json items = Json::array();
  for (const Line& l : req.items) {
    ctx.exec(sql::kInsertReservation, req.orderId, l.productId, l.quantity, now, expiresAt, now);
    const auto p = loadProduct(ctx, l.productId);
    items.push_back(Json{{"productId", l.productId},
                         {"quantity", l.quantity},
                         {"remainingStock", p ? p->available : 0}});
  }
  const Json event{
      {"orderId", req.orderId}, {"items", items}, {"reservedAt", plexus::rfc3339::format(now)}};
  ctx.exec(sql::kInsertOutcome, req.orderId, "Reserved", event.dump(), now);
  ctx.emit("InventoryReserved", event, stream);
  ctx.schedule("ExpireReservation", Json{{"orderId", req.orderId}}, expiresAt, stream);
  ctx.afterCommit([this] { outcomes_.increment({"reserved"}); });
  return plexus::ok(Json{{"outcome", "Reserved"}, {"repeated", false}}.dump());
}

// ---- ReleaseInventory / ExpireReservation ----

ReleaseInventory::ReleaseInventory(plexus::Host& host)
    : outcomes_(host.counter("inventory_reservations_total",
                             "Inventory reservation outcomes (reserved, insufficient, released, "
                             "expired, committed).",
                             {"outcome"})) {}

plexus::Result ReleaseInventory::handle(plexus::Context& ctx, const plexus::Message& msg) {
  const Json body = msg.json();
  if (!body.is_object()) throw BadRequest("payload must be a JSON object");
  const std::string orderId = requireId(body, "orderId");
  const bool expiry = msg.type() == "ExpireReservation";
  const int64_t now = ctx.nowMs();

  Json items = Json::array();
  for (const Reservation& r : loadReservations(ctx, orderId)) {
    if (r.status != "Reserved") continue;
    if (ctx.exec(sql::kLeaveReserved, "Released", now, orderId, r.productId) != 1) continue;
    ctx.exec(sql::kReturnStock, r.quantity, r.quantity, now, r.productId);
    items.push_back(Json{{"productId", r.productId}, {"quantity", r.quantity}});
  }
  // ReleaseInventory always answers (possibly with no items); an expiry that finds nothing still
  // Reserved (committed, or already released) is silent.
  if (items.empty() && expiry) return plexus::ok(Json{{"released", 0}}.dump());
  Json event{{"orderId", orderId}, {"items", items}, {"releasedAt", plexus::rfc3339::format(now)}};
  if (expiry) {
    event["reason"] = "Reservation expired";
  } else if (body.contains("reason") && body["reason"].is_string()) {
    event["reason"] = body["reason"];
  }
  ctx.emit("InventoryReleased", event, orderId);
  const bool any = !items.empty();
  ctx.afterCommit([this, any, expiry] {
    if (any) outcomes_.increment({expiry ? "expired" : "released"});
  });
  return plexus::ok(Json{{"released", items.size()}}.dump());
}

// ---- ShipmentCreated ----

CommitOnShipment::CommitOnShipment(plexus::Host& host)
    : outcomes_(host.counter("inventory_reservations_total",
                             "Inventory reservation outcomes (reserved, insufficient, released, "
                             "expired, committed).",
                             {"outcome"})) {}

plexus::Result CommitOnShipment::handle(plexus::Context& ctx, const plexus::Message& msg) {
  const Json body = msg.json();
  if (!body.is_object()) throw BadRequest("payload must be a JSON object");
  const std::string orderId = requireId(body, "orderId");
  const int64_t now = ctx.nowMs();
  int64_t committed = 0;
  for (const Reservation& r : loadReservations(ctx, orderId)) {
    if (r.status != "Reserved") continue;
    if (ctx.exec(sql::kLeaveReserved, "Committed", now, orderId, r.productId) != 1) continue;
    ctx.exec(sql::kCommitStock, r.quantity, now, r.productId);
    ++committed;
  }
  if (committed == 0) {
    ctx.log(plexus::LogLevel::Info,
            "ShipmentCreated for order " + orderId + ": no Reserved inventory to commit");
  } else {
    ctx.afterCommit([this] { outcomes_.increment({"committed"}); });
  }
  return plexus::ok(Json{{"committed", committed}}.dump());
}

// ---- RestockInventory ----

plexus::Result RestockInventory::handle(plexus::Context& ctx, const plexus::Message& msg) {
  const RestockRequest req = parseRestock(msg.json());
  const int64_t now = ctx.nowMs();
  const bool created = !loadProduct(ctx, req.productId).has_value();
  ctx.exec(req.absolute ? sql::kSetStock : sql::kAddStock, req.productId, req.quantity, now);
  const auto p = loadProduct(ctx, req.productId);
  if (!p) return plexus::retry("product row not visible after upsert");
  Json out = productJson(*p);
  out["created"] = created;
  return plexus::ok(out.dump());
}

// ---- routes ----

namespace {
std::string productParam(const plexus::Request& req) {
  const std::string id = req.param("productId").value_or("");
  if (!validId(id)) throw BadRequest("productId must be 1-64 characters of [A-Za-z0-9._-]");
  return id;
}
}  // namespace

plexus::Response GetInventory::handle(plexus::Context& ctx, const plexus::Request& req) {
  const std::string id = productParam(req);
  const auto p = loadProduct(ctx, id);
  if (!p) return plexus::Response::error(404, "product " + id + " not found");
  return plexus::Response::json(200, productJson(*p));
}

plexus::Response PutInventory::handle(plexus::Context& ctx, const plexus::Request& req) {
  const std::string id = productParam(req);
  const Json body = req.json();
  if (!body.is_object()) throw BadRequest("body must be a JSON object");
  if (!body.contains("availableStock")) throw BadRequest("\"availableStock\" is required");
  const auto n = intIn(body["availableStock"], 0, kMaxStock);
  if (!n) {
    throw BadRequest("\"availableStock\" must be an integer in 0.." + std::to_string(kMaxStock));
  }
  const plexus::Result r =
      ctx.invoke("RestockInventory", Json{{"productId", id}, {"availableStock", *n}}, id);
  switch (r.status) {
    case plexus::Status::Ok:
      break;
    case plexus::Status::Reject:
      return plexus::Response::error(400, r.detail);
    case plexus::Status::Retry:
      return plexus::Response::error(503, "temporarily unavailable, retry later");
    default:
      throw std::runtime_error("RestockInventory failed: " + r.detail);
  }
  Json out = Json::parse(r.detail);
  const bool created = out.value("created", false);
  out.erase("created");
  return plexus::Response::json(created ? 201 : 200, out);
}

}  // namespace inventory
