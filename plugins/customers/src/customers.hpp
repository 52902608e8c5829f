#pragma once
// customer-service read models: one order summary per order and one activity row per customer,
// projected from the order-flow events, plus the two GET routes that serve them.
//
// Out-of-order and duplicate events: every event only records its own facts on the order row
// (first write wins, guarded by "still unset" conditions), the status is derived from the facts
// (see deriveStatus), and the customer's aggregates move only when the order's counted flags
// change (conditional update on the flags), so a fact is added to or taken out of the customer's
// totals exactly once whatever the arrival order.

#include <plexus/sdk/money.hpp>
#include <plexus/sdk/plugin.hpp>
#include <plexus/sdk/rfc3339.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace customers {

// ---- small pure helpers (unit-tested directly) ----

// Opaque external id: 1-64 characters of [A-Za-z0-9._-] (customerId, orderId, ...).
bool validId(const std::string& s);

// A JSON money number with at most 2 decimals, >= 0, as integer cents; nullopt otherwise.
std::optional<int64_t> moneyToCents(const plexus::Json& v);

// The facts known about one order, whatever order they arrived in.
struct OrderFacts {
  bool created = false;    // OrderCreated seen
  bool paid = false;       // PaymentProcessed seen
  bool shipped = false;    // ShipmentCreated (or ShipmentDelivered) seen
  bool delivered = false;  // ShipmentDelivered seen
  bool cancelled = false;  // OrderCancelled seen
};

// Status precedence: Pending < PaymentProcessed < Shipped < Delivered. Cancelled wins over
// every status except Delivered: a delivery is a physical fact a later cancellation cannot undo.
std::string deriveStatus(const OrderFacts& f);
// Whether the order counts in the customer's totalOrders (every placed order, cancelled included).
bool countsAsOrder(const OrderFacts& f);
// Whether the order's amount counts in totalSpent: placed and not (effectively) cancelled, i.e.
// the status is not Cancelled.
bool countsAsSpent(const OrderFacts& f);

// ---- components ----

// Projects OrderCreated, PaymentProcessed, ShipmentCreated, ShipmentDelivered and OrderCancelled
// into customers_order_summary and customers_activity.
class CustomerProjection final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& event) override;
};

// GET /api/customers/{id} -> the customer's activity, 404 when unknown.
class GetCustomer final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

// GET /api/customers/{id}/orders[?limit=N] -> bare array of order summaries, newest first.
class GetCustomerOrders final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

}  // namespace customers
