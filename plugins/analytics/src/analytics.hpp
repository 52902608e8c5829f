#pragma once
// analytics-worker: keeps one row per order (plus its product lines) from OrderCreated and
// OrderCancelled, and answers sales reports with SQL aggregation at read time. Nothing is
// pre-aggregated, so duplicates and out-of-order events only ever touch the order's own row.
//
// Counting rules (DOMAIN: "Orders count on their creation date; OrderCancelled adds to
// cancelledOrders and takes the order out of revenue"):
// - totalOrders: every order created that UTC day, cancelled ones included;
// - cancelledOrders: those of them cancelled (counted on the creation day, not the cancel day);
// - totalRevenue, totalItemsSold, products/top: non-cancelled orders only;
// - avgOrderValue: totalRevenue / (totalOrders - cancelledOrders), 0 when none;
// - uniqueCustomers: distinct customers among the day's orders (cancelled included).

#include <plexus/sdk/money.hpp>
#include <plexus/sdk/plugin.hpp>
#include <plexus/sdk/rfc3339.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace analytics {

// ---- small pure helpers (unit-tested directly) ----

bool validId(const std::string& s);                          // 1-64 of [A-Za-z0-9._-]
std::optional<int64_t> moneyToCents(const plexus::Json& v);  // >= 0, at most 2 decimals
// Half-up rounded cents of total / n (n > 0).
int64_t averageCents(int64_t totalCents, int64_t n);

// UTC day ('YYYY-MM-DD') and hour (0-23) of a unix-ms instant.
std::string dayOf(int64_t ms);
int hourOf(int64_t ms);

// Inclusive [start, end] dates of a report. Absent end = today (UTC, from nowMs); absent start =
// end - (defaultDays - 1). Throws plexus::BadRequest on a malformed date or start > end.
std::pair<std::string, std::string> resolveRange(const std::optional<std::string>& start,
                                                 const std::optional<std::string>& end,
                                                 int64_t nowMs, int defaultDays = 30);
// limit query parameter: absent -> 10; 1-100 else BadRequest.
int64_t parseLimit(const std::optional<std::string>& limit);

// ---- components ----

class SalesProjection final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& event) override;
};

// GET /api/analytics/sales/daily?startDate&endDate
class GetDailySales final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

// GET /api/analytics/sales/hourly?date
class GetHourlySales final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

// GET /api/analytics/products/top?startDate&endDate&limit
class GetTopProducts final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

}  // namespace analytics
