// order_audit: a third party's drop-in plugin. It keeps an audit row for every order created in
// the system (perspective on OrderCreated) and answers
//   GET /api/order-audit/{orderId}  {"orderId", "customerId", "seenAt"} or 404
//   GET /api/order-audit            {"ordersSeen": n}
// Runs on PostgreSQL and SQLite (one table of its own, created by its migration).
#include <plexus/sdk/plugin.hpp>

#include <string>

namespace {

bool validId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

class RecordOrder final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& event) override {
    const plexus::Json e = event.json();
    const std::string orderId = e.value("orderId", std::string(event.stream()));
    if (!validId(orderId)) return plexus::reject("OrderCreated without a valid orderId");
    // A redelivered event changes nothing: the order id is the key.
    ctx.exec(
        "INSERT INTO order_audit (order_id, customer_id, seen_at_ms) VALUES ($1, $2, $3) "
        "ON CONFLICT (order_id) DO NOTHING",
        orderId, e.value("customerId", std::string()), ctx.nowMs());
    return plexus::ok();
  }
};

class GetAudit final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const std::string id = req.param("orderId").value_or("");
    if (!validId(id)) return plexus::Response::error(400, "orderId must be 1-64 of [A-Za-z0-9._-]");
    const auto rows =
        ctx.sql("SELECT customer_id, seen_at_ms FROM order_audit WHERE order_id = $1", id);
    if (rows.empty()) return plexus::Response::error(404, "order " + id + " not seen");
    return plexus::Response::json(200, plexus::Json{{"orderId", id},
                                                    {"customerId", rows.front().at(0).asText()},
                                                    {"seenAtMs", rows.front().at(1).asInt()}});
  }
};

class CountAudit final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request&) override {
    const auto rows = ctx.sql("SELECT COUNT(*) FROM order_audit");
    return plexus::Response::json(200, plexus::Json{{"ordersSeen", rows.front().at(0).asInt()}});
  }
};

}  // namespace

PLEXUS_REGISTER_MIGRATION(1, "any", "order audit rows",
                          "CREATE TABLE order_audit (order_id TEXT PRIMARY KEY, "
                          "customer_id TEXT NOT NULL, seen_at_ms BIGINT NOT NULL)");
PLEXUS_REGISTER_PERSPECTIVE(RecordOrder, "OrderCreated");
PLEXUS_REGISTER_ROUTE(GetAudit, "GET", "/api/order-audit/{orderId}");
PLEXUS_REGISTER_ROUTE(CountAudit, "GET", "/api/order-audit");
PLEXUS_PLUGIN("order_audit", "1.0.0");
