#pragma once
// order-service: the CreateOrder / CancelOrder receptors, the OrderView perspective (the "order
// summary" read model of DOMAIN.md) and the routes POST /api/orders, GET /api/orders/{id}.
//
// Tables (migration 1):
//   orders_orders  the write model: one row per order, the OrderCreated JSON in `document`,
//                  `idempotency_key` UNIQUE (NULL when none was given).
//   orders_view    the order summary read model: internal merge state as JSON in `document`
//                  (see applyViewEvent), the derived status, an optimistic-concurrency version.

#include <plexus/sdk/money.hpp>
#include <plexus/sdk/plugin.hpp>
#include <plexus/sdk/rfc3339.hpp>
#include <plexus/sdk/uuid.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace orders {

using plexus::Json;

// ---- small pure helpers (unit-tested directly) ----

// Invalid input throws plexus::BadRequest, whose message is safe to show to a client.

// A JSON number with at most 2 decimals, 0 <= x <= maxCents/100, as integer cents (the SDK's
// exact plexus::money). Throws plexus::BadRequest naming `field`.
int64_t parseMoneyCents(const Json& v, const std::string& field, int64_t maxCents);
// customerId / productId: 1-64 characters of [A-Za-z0-9._-].
bool isValidExternalId(const std::string& s);
// ISO 4217 code shape: three uppercase ASCII letters.
bool isCurrencyCode(const std::string& s);

struct OrderLine {
  std::string productId;
  int64_t quantity = 0;
  int64_t unitPriceCents = 0;
  int64_t lineTotalCents = 0;
};

struct Address {
  std::string street, city, state, zipCode, country;
};

// A CreateOrder payload after validation and defaulting.
struct OrderRequest {
  std::string customerId;
  std::vector<OrderLine> items;
  Address shippingAddress;
  std::string currency = "USD";
  std::string paymentMethod = "card";
  std::string customerEmail;   // default "{customerId}@example.com"
  std::string customerPhone;   // default kSandboxPhone
  std::string idempotencyKey;  // empty = none
  int64_t totalCents = 0;
};

constexpr const char* kSandboxPhone = "+15555550100";
constexpr size_t kMaxItems = 100;
constexpr int64_t kMaxQuantity = 1000000;
constexpr int64_t kMaxUnitPriceCents = 10000000000LL;  // 100,000,000.00
constexpr size_t kMaxIdempotencyKey = 128;

// Validates a CreateOrder body (DOMAIN.md rules), applies the defaults and computes line totals
// and the total in cents. Throws plexus::BadRequest with a client-facing message.
OrderRequest validateCreateOrder(const Json& body);
// Validates an idempotency key (header or field): 1-128 characters. Throws plexus::BadRequest.
void validateIdempotencyKey(const std::string& key);
// The OrderCreated event JSON (all DOMAIN.md fields, createdAt RFC 3339).
Json buildOrderCreated(const OrderRequest& r, const std::string& orderId, int64_t createdAtMs);

// ---- order summary read model ----
//
// The stored view state is a JSON object of facts, each set by one event type and never
// overwritten once set (so duplicates are no-ops and the result does not depend on arrival
// order):
//   created{customerId, totalAmount(cents), currency, itemCount, shippingAddress, createdAt}
//   payment{paymentId, status, processedAt}
//   shipment{shipmentId, trackingNumber, estimatedDelivery}   (fields filled by ShipmentCreated
//                                                              or, if first, ShipmentDelivered)
//   delivery{actualDelivery}
//   cancellation{reason, cancelledAt}
// The status is derived: Delivered if delivered; else Cancelled if cancelled; else Shipped if a
// shipment was created; else PaymentProcessed if paid; else Pending. (Cancelled wins over every
// status except Delivered: a delivered parcel cannot be un-delivered.)

// Merges one event into the state; returns true when the state changed. Unknown types or
// payloads that are not objects change nothing.
bool applyViewEvent(Json& state, const std::string& type, const Json& payload);
std::string viewStatus(const Json& state);
// The DOMAIN.md order summary for a state that has seen OrderCreated.
Json viewSummary(const std::string& orderId, const Json& state);

// Reads, merges and writes one orders_view row inside the caller's transaction, with an
// optimistic version check (a concurrent writer makes this throw plexus::TransientError).
// `atMs`: the event's time, so a rebuild writes the row the live projection wrote. Returns true
// when the row changed.
bool upsertView(plexus::Context& ctx, const std::string& orderId, const std::string& type,
                const Json& payload, int64_t atMs);

// ---- components ----

// Receptor "CreateOrder" (stream = the orderId). Result: the OrderCreated JSON; for an order
// that already existed (same idempotencyKey, or the same orderId delivered again) the stored
// OrderCreated JSON plus "idempotentReplay": true, and nothing is emitted.
class CreateOrder final : public plexus::Receptor {
 public:
  explicit CreateOrder(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& m) override;

 private:
  const plexus::Metric created_;
};

// Receptor "CancelOrder" {orderId, reason} (stream = orderId).
class CancelOrder final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& m) override;
};

// Perspective over OrderCreated, PaymentProcessed, ShipmentCreated, ShipmentDelivered,
// OrderCancelled -> orders_view. Registered inline: the events this plugin's receptors emit are
// projected in their transaction (plugin guide, "Inline perspectives"); its version check makes a
// concurrent asynchronous projection of the same order retry instead of losing a write.
class OrderView final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& e) override;
};

// POST /api/orders
class PostOrder final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

// GET /api/orders/{id}
class GetOrder final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

}  // namespace orders
