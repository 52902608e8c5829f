#include "analytics.hpp"

#include <cstdio>
#include <map>

namespace analytics {

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

// Amounts above 10^13 are refused: no order of this shop comes near it.
constexpr int64_t kMaxCents = 1'000'000'000'000'000;

std::optional<int64_t> moneyToCents(const Json& v) {
  try {
    return plexus::money::nonNegativeFromJson(v, "amount", kMaxCents);
  } catch (const plexus::money::MoneyError&) {
    return std::nullopt;
  }
}

int64_t averageCents(int64_t totalCents, int64_t n) {
  if (n <= 0) return 0;
  return (totalCents * 2 + n) / (2 * n);  // half up, totals are >= 0
}

namespace {

using plexus::rfc3339::daysFromCivil;
using plexus::rfc3339::daysSinceEpoch;
using plexus::rfc3339::formatDate;
using plexus::rfc3339::kDayMs;
using plexus::rfc3339::parseDate;

// 0000-01-01 and 9999-12-31 as days since the epoch: the range a 'YYYY-MM-DD' can name.
constexpr int64_t kMinDay = daysFromCivil(0, 1, 1);
constexpr int64_t kMaxDay = daysFromCivil(9999, 12, 31);

}  // namespace

std::string dayOf(int64_t ms) { return formatDate(daysSinceEpoch(ms)); }

int hourOf(int64_t ms) { return static_cast<int>((ms - daysSinceEpoch(ms) * kDayMs) / 3600000); }

std::pair<std::string, std::string> resolveRange(const std::optional<std::string>& start,
                                                 const std::optional<std::string>& end,
                                                 int64_t nowMs, int defaultDays) {
  int64_t endDay = daysSinceEpoch(nowMs);
  if (end) {
    auto d = parseDate(*end);
    if (!d) throw plexus::BadRequest("endDate must be a date YYYY-MM-DD");
    endDay = *d;
  }
  int64_t startDay = std::max(kMinDay, endDay - (defaultDays - 1));
  if (start) {
    auto d = parseDate(*start);
    if (!d) throw plexus::BadRequest("startDate must be a date YYYY-MM-DD");
    startDay = *d;
  }
  if (startDay > endDay) throw plexus::BadRequest("startDate must not be after endDate");
  return {formatDate(startDay), formatDate(endDay)};
}

int64_t parseLimit(const std::optional<std::string>& limit) {
  if (!limit) return 10;
  const std::string& l = *limit;
  if (l.empty() || l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos) {
    throw plexus::BadRequest("limit must be an integer between 1 and 100");
  }
  const int64_t n = std::stoll(l);
  if (n < 1 || n > 100) throw plexus::BadRequest("limit must be an integer between 1 and 100");
  return n;
}

// ---- projection ----

namespace {

struct BadEvent : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string text(const Json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_string()) throw BadEvent(std::string("\"") + key + "\" must be a string");
  return it->get<std::string>();
}

int64_t timeOr(const Json& body, const char* key, int64_t fallback) {
  const std::string s = text(body, key);
  if (s.empty()) return fallback;
  auto ms = plexus::rfc3339::parse(s);
  if (!ms) throw BadEvent(std::string("\"") + key + "\" is not an RFC 3339 timestamp");
  return *ms;
}

struct Line {
  int64_t quantity = 0;
  int64_t cents = 0;
};

void recordCreated(plexus::Context& ctx, const std::string& orderId, const Json& e,
                   int64_t fallbackMs, int64_t now) {
  const std::string customerId = text(e, "customerId");
  if (!validId(customerId)) throw BadEvent("\"customerId\" must be 1-64 of [A-Za-z0-9._-]");
  auto items = e.find("items");
  if (items == e.end() || !items->is_array() || items->empty()) {
    throw BadEvent("\"items\" must be a non-empty array");
  }
  std::map<std::string, Line> lines;  // one row per product, even if listed on several lines
  Json stored = Json::array();
  int64_t itemCount = 0, linesCents = 0;
  for (const auto& it : *items) {
    if (!it.is_object()) throw BadEvent("every item must be an object");
    const std::string productId = text(it, "productId");
    if (!validId(productId)) throw BadEvent("\"productId\" must be 1-64 of [A-Za-z0-9._-]");
    if (!it.contains("quantity") || !it["quantity"].is_number_integer() ||
        it["quantity"].get<int64_t>() <= 0 || it["quantity"].get<int64_t>() > 1'000'000'000) {
      throw BadEvent("every item needs a positive integer \"quantity\"");
    }
    const int64_t q = it["quantity"].get<int64_t>();
    std::optional<int64_t> unit;
    if (it.contains("unitPrice")) {
      unit = moneyToCents(it["unitPrice"]);
      if (!unit) throw BadEvent("\"unitPrice\" must be a money amount");
    }
    std::optional<int64_t> lineCents;
    if (it.contains("lineTotal")) {
      lineCents = moneyToCents(it["lineTotal"]);
      if (!lineCents) throw BadEvent("\"lineTotal\" must be a money amount");
    } else if (unit) {
      lineCents = *unit * q;
    } else {
      throw BadEvent("every item needs \"lineTotal\" or \"unitPrice\"");
    }
    lines[productId].quantity += q;
    lines[productId].cents += *lineCents;
    itemCount += q;
    linesCents += *lineCents;
    Json s{{"productId", productId},
           {"quantity", q},
           {"lineTotal", plexus::money::toJson(*lineCents)}};
    if (unit) s["unitPrice"] = plexus::money::toJson(*unit);
    stored.push_back(s);
  }
  int64_t totalCents = linesCents;
  if (auto t = e.find("totalAmount"); t != e.end() && !t->is_null()) {
    auto c = moneyToCents(*t);
    if (!c) throw BadEvent("\"totalAmount\" must be a money amount (>= 0, 2 decimals)");
    totalCents = *c;
  }
  const int64_t createdAt = timeOr(e, "createdAt", fallbackMs);
  const int64_t day = daysSinceEpoch(createdAt);
  if (day < kMinDay || day > kMaxDay) throw BadEvent("\"createdAt\" is outside years 0000-9999");
  ctx.exec(
      "UPDATE analytics_orders SET created = 1, customer_id = $1, created_at = $2, day = $3, "
      "hour = $4, total_cents = $5, item_count = $6, items = $7, updated_at = $8 "
      "WHERE order_id = $9 AND created = 0",
      customerId, static_cast<long long>(createdAt), dayOf(createdAt), hourOf(createdAt),
      static_cast<long long>(totalCents), static_cast<long long>(itemCount), stored.dump(),
      static_cast<long long>(now), orderId);
  for (const auto& [productId, line] : lines) {
    ctx.exec(
        "INSERT INTO analytics_order_lines (order_id, product_id, quantity, line_total_cents) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (order_id, product_id) DO NOTHING",
        orderId, productId, static_cast<long long>(line.quantity),
        static_cast<long long>(line.cents));
  }
}

}  // namespace

plexus::Result SalesProjection::handle(plexus::Context& ctx, const plexus::Message& event) {
  const Json e = event.json();
  if (!e.is_object()) return plexus::reject("event payload must be a JSON object");
  const std::string type(event.type());
  if (type != "OrderCreated" && type != "OrderCancelled") {
    return plexus::reject("analytics: unexpected event type " + type);
  }
  try {
    std::string orderId = text(e, "orderId");
    if (orderId.empty()) orderId = std::string(event.stream());
    if (!validId(orderId)) return plexus::reject("\"orderId\" must be 1-64 of [A-Za-z0-9._-]");
    const int64_t now = ctx.nowMs();
    // The order row exists from the first event of either kind, so a cancellation that arrives
    // before the creation is kept and applied when the creation comes.
    ctx.exec(
        "INSERT INTO analytics_orders (order_id, updated_at) VALUES ($1, $2) "
        "ON CONFLICT (order_id) DO NOTHING",
        orderId, static_cast<long long>(now));
    if (type == "OrderCreated") {
      recordCreated(ctx, orderId, e, event.timestampMs(), now);
    } else {
      ctx.exec(
          "UPDATE analytics_orders SET cancelled = 1, cancelled_at = $1, updated_at = $2 "
          "WHERE order_id = $3 AND cancelled = 0",
          static_cast<long long>(timeOr(e, "cancelledAt", event.timestampMs())),
          static_cast<long long>(now), orderId);
    }
    return plexus::ok();
  } catch (const BadEvent& ex) {
    return plexus::reject(type + ": " + ex.what());
  }
}

// ---- routes ----

namespace {

int64_t intOf(const plexus::Value& v) { return v.isNull() ? 0 : v.asInt(); }

}  // namespace

plexus::Response GetDailySales::handle(plexus::Context& ctx, const plexus::Request& req) {
  const auto [start, end] = resolveRange(req.query("startDate"), req.query("endDate"), ctx.nowMs());
  const auto rows = ctx.sql(
      "SELECT day, COUNT(*), CAST(COALESCE(SUM(cancelled), 0) AS BIGINT), "
      "CAST(COALESCE(SUM(CASE WHEN cancelled = 0 THEN total_cents ELSE 0 END), 0) AS BIGINT), "
      "CAST(COALESCE(SUM(CASE WHEN cancelled = 0 THEN item_count ELSE 0 END), 0) AS BIGINT), "
      "COUNT(DISTINCT customer_id) "
      "FROM analytics_orders WHERE created = 1 AND day >= $1 AND day <= $2 "
      "GROUP BY day ORDER BY day DESC",
      start, end);
  Json out = Json::array();
  for (const auto& r : rows) {
    const int64_t total = intOf(r[1]), cancelled = intOf(r[2]), revenue = intOf(r[3]);
    out.push_back(
        Json{{"date", r[0].asText()},
             {"totalOrders", total},
             {"cancelledOrders", cancelled},
             {"totalRevenue", plexus::money::toJson(revenue)},
             {"totalItemsSold", intOf(r[4])},
             {"avgOrderValue", plexus::money::toJson(averageCents(revenue, total - cancelled))},
             {"uniqueCustomers", intOf(r[5])}});
  }
  return plexus::Response::json(200, out);
}

plexus::Response GetHourlySales::handle(plexus::Context& ctx, const plexus::Request& req) {
  std::string day = dayOf(ctx.nowMs());
  if (auto d = req.query("date")) {
    auto parsed = parseDate(*d);
    if (!parsed) throw plexus::BadRequest("date must be a date YYYY-MM-DD");
    day = formatDate(*parsed);
  }
  const auto rows = ctx.sql(
      "SELECT hour, COUNT(*), "
      "CAST(COALESCE(SUM(CASE WHEN cancelled = 0 THEN total_cents ELSE 0 END), 0) AS BIGINT) "
      "FROM analytics_orders WHERE created = 1 AND day = $1 GROUP BY hour ORDER BY hour",
      day);
  Json out = Json::array();
  for (const auto& r : rows) {
    out.push_back(Json{{"hour", intOf(r[0])},
                       {"totalOrders", intOf(r[1])},
                       {"totalRevenue", plexus::money::toJson(intOf(r[2]))}});
  }
  return plexus::Response::json(200, out);
}

plexus::Response GetTopProducts::handle(plexus::Context& ctx, const plexus::Request& req) {
  const auto [start, end] = resolveRange(req.query("startDate"), req.query("endDate"), ctx.nowMs());
  const int64_t limit = parseLimit(req.query("limit"));
  const auto rows = ctx.sql(
      "SELECT l.product_id, COUNT(DISTINCT l.order_id), CAST(SUM(l.quantity) AS BIGINT), "
      "CAST(SUM(l.line_total_cents) AS BIGINT) AS revenue "
      "FROM analytics_order_lines l JOIN analytics_orders o ON o.order_id = l.order_id "
      "WHERE o.created = 1 AND o.cancelled = 0 AND o.day >= $1 AND o.day <= $2 "
      "GROUP BY l.product_id ORDER BY revenue DESC, l.product_id ASC LIMIT $3",
      start, end, static_cast<long long>(limit));
  Json out = Json::array();
  for (const auto& r : rows) {
    const int64_t times = intOf(r[1]), revenue = intOf(r[3]);
    out.push_back(
        Json{{"productId", r[0].asText()},
             {"timesOrdered", times},
             {"unitsSold", intOf(r[2])},
             {"totalRevenue", plexus::money::toJson(revenue)},
             {"avgRevenuePerOrder", plexus::money::toJson(averageCents(revenue, times))}});
  }
  return plexus::Response::json(200, out);
}

}  // namespace analytics
