#pragma once
// inventory-worker: stock per product, all-or-nothing reservations per order, release / expiry /
// commit of reservations, restock, and the /api/inventory routes.

#include <plexus/sdk/plugin.hpp>
#include <plexus/sdk/rfc3339.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inventory {

// ---- SQL (every statement runs on PostgreSQL 15 and SQLite 3.40; tests match these texts) ----
namespace sql {
inline constexpr const char* kSelectOutcome =
    "SELECT outcome, event_json FROM inventory_order_outcomes WHERE order_id = $1";
inline constexpr const char* kInsertOutcome =
    "INSERT INTO inventory_order_outcomes (order_id, outcome, event_json, created_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING";
// Conditional update: reserves q units only if they are available (no overselling).
inline constexpr const char* kReserveStock =
    "UPDATE inventory_products SET available_stock = available_stock - $1, "
    "reserved_stock = reserved_stock + $2, updated_at = $3 "
    "WHERE product_id = $4 AND available_stock >= $5";
// Inverse of kReserveStock: undo within the transaction, release, expiry.
inline constexpr const char* kReturnStock =
    "UPDATE inventory_products SET available_stock = available_stock + $1, "
    "reserved_stock = reserved_stock - $2, updated_at = $3 WHERE product_id = $4";
// Committed: the reserved units leave the warehouse.
inline constexpr const char* kCommitStock =
    "UPDATE inventory_products SET reserved_stock = reserved_stock - $1, updated_at = $2 "
    "WHERE product_id = $3";
inline constexpr const char* kSelectProduct =
    "SELECT product_id, available_stock, reserved_stock, updated_at FROM inventory_products "
    "WHERE product_id = $1";
inline constexpr const char* kInsertReservation =
    "INSERT INTO inventory_reservations (order_id, product_id, quantity, status, created_at, "
    "expires_at, updated_at) VALUES ($1, $2, $3, 'Reserved', $4, $5, $6) "
    "ON CONFLICT (order_id, product_id) DO NOTHING";
inline constexpr const char* kSelectReservations =
    "SELECT product_id, quantity, status FROM inventory_reservations WHERE order_id = $1 "
    "ORDER BY product_id";
// Moves one Reserved line to $1 (Released or Committed); affects 0 rows if it is not Reserved.
inline constexpr const char* kLeaveReserved =
    "UPDATE inventory_reservations SET status = $1, updated_at = $2 "
    "WHERE order_id = $3 AND product_id = $4 AND status = 'Reserved'";
inline constexpr const char* kSetStock =
    "INSERT INTO inventory_products (product_id, available_stock, reserved_stock, updated_at) "
    "VALUES ($1, $2, 0, $3) ON CONFLICT (product_id) DO UPDATE SET "
    "available_stock = excluded.available_stock, updated_at = excluded.updated_at";
inline constexpr const char* kAddStock =
    "INSERT INTO inventory_products (product_id, available_stock, reserved_stock, updated_at) "
    "VALUES ($1, $2, 0, $3) ON CONFLICT (product_id) DO UPDATE SET "
    "available_stock = inventory_products.available_stock + excluded.available_stock, "
    "updated_at = excluded.updated_at";
}  // namespace sql

inline constexpr int64_t kMaxQuantity = 1000000;       // per order line
inline constexpr int64_t kMaxStock = 1000000000000LL;  // per product (10^12)

// ---- pure helpers ----
// customerId / productId / orderId: 1-64 characters of [A-Za-z0-9._-].
bool validId(std::string_view s);
// An integer JSON value in [lo, hi] (5.0, "5", true are not integers), else nullopt.
std::optional<int64_t> intIn(const plexus::Json& v, int64_t lo, int64_t hi);

struct Line {
  std::string productId;
  int64_t quantity = 0;
};
struct ReserveRequest {
  std::string orderId;
  std::vector<Line> items;  // duplicates of one productId merged, first-seen order kept
};
// Validates ReserveInventory; throws plexus::BadRequest (-> REJECT) on bad input.
ReserveRequest parseReserve(const plexus::Json& body);

struct RestockRequest {
  std::string productId;
  bool absolute = true;  // availableStock (set) or quantityToAdd (add)
  int64_t quantity = 0;
};
// Validates RestockInventory; throws plexus::BadRequest.
RestockRequest parseRestock(const plexus::Json& body);

// ---- receptors ----

// ReserveInventory {orderId, items[{productId, quantity}]} -> InventoryReserved (one per order,
// every line reserved) or InventoryInsufficient (nothing stays reserved); schedules
// ExpireReservation. A repeated ReserveInventory re-emits the stored outcome.
class ReserveInventory final : public plexus::Receptor {
 public:
  explicit ReserveInventory(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& msg) override;

 private:
  int64_t expirySeconds_;
  plexus::Metric outcomes_;
};

// ReleaseInventory {orderId, reason} and ExpireReservation {orderId}: Reserved lines go back to
// available stock and become Released; emits InventoryReleased.
class ReleaseInventory final : public plexus::Receptor {
 public:
  explicit ReleaseInventory(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& msg) override;

 private:
  plexus::Metric outcomes_;
};

// ShipmentCreated (event): the order's Reserved lines become Committed (reserved stock leaves).
class CommitOnShipment final : public plexus::Receptor {
 public:
  explicit CommitOnShipment(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& msg) override;

 private:
  plexus::Metric outcomes_;
};

// RestockInventory {productId, availableStock | quantityToAdd}. Result JSON: the product view
// plus "created" (true when the product did not exist).
class RestockInventory final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& msg) override;
};

// ---- routes ----

// GET /api/inventory/{productId}
class GetInventory final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

// PUT /api/inventory/{productId} {"availableStock": n}: 201 created, 200 updated.
class PutInventory final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

}  // namespace inventory
