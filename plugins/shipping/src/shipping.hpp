#pragma once
// shipping-worker: creates one shipment per order through a sandbox carrier (CreateShipment) and
// takes carrier tracking webhooks (POST /api/webhooks/fedex/tracking).

#include <plexus/sdk/money.hpp>
#include <plexus/sdk/plugin.hpp>
#include <plexus/sdk/rfc3339.hpp>

#include "webhook_signature.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace shipping {

// ---- pure helpers (unit-tested directly) ----

// RFC 3339 UTC with milliseconds: "2026-01-01T00:00:00.000Z".
std::string formatRfc3339(int64_t unixMs);
// Any RFC 3339 date-time ("Z" or a numeric offset, optional fraction) -> unix ms; nullopt if bad.
std::optional<int64_t> parseRfc3339(const std::string& text);
// A JSON money amount (number, >= 0, at most 2 decimals) -> integer cents; nullopt otherwise.
std::optional<int64_t> parseMoneyCents(const plexus::Json& amount);
// Cents -> a JSON number with at most 2 decimals (1999 -> 19.99).
plexus::Json centsToJson(int64_t cents);
// Opaque external ids (customerId): 1-64 chars of [A-Za-z0-9._-].
bool isOpaqueId(const std::string& s);
// "SBX" + 20 decimal digits derived from the shipment id (deterministic, unique per id).
std::string trackingNumberFor(const std::string& shipmentId);

// What the sandbox carrier answers for a label request.
struct CarrierOutcome {
  enum class Kind { Created, Refused, Unavailable };
  Kind kind = Kind::Created;
  std::string reason;  // Refused / Unavailable
};

// The in-plugin sandbox carrier "FedEx-Sandbox", deterministic given the zip code and attempt:
//   zipCode "00000" -> Refused (permanent: the address is not deliverable);
//   zipCode "99999" -> Unavailable on every attempt (transient carrier outage);
//   zipCode "99998" -> Unavailable on the first attempt only, then Created;
//   anything else   -> Created.
CarrierOutcome sandboxCarrier(const std::string& zipCode, uint32_t attempt);

// Validates a CreateShipment payload; returns the error text or "" when valid.
std::string validateCreateShipment(const plexus::Json& body);

// Parsed tracking webhook body.
struct TrackingUpdate {
  std::string trackingNumber;
  std::string status;
  std::string location;
  int64_t timestampMs = 0;
};
// Parses {trackingNumber, status, location, timestamp}; throws plexus::BadRequest when bad.
TrackingUpdate parseTrackingUpdate(const plexus::Json& body);

// ---- components ----

// Handles CreateShipment {orderId, customerId, shippingAddress} (stream = orderId).
// Config: shipping_cost (money, default 9.99), currency ("USD"), max_carrier_attempts (3),
// estimated_delivery_days (3).
class CreateShipmentReceptor final : public plexus::Receptor {
 public:
  explicit CreateShipmentReceptor(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& cmd) override;

 private:
  int64_t shippingCostCents_;
  std::string currency_;
  uint32_t maxCarrierAttempts_;
  int64_t deliveryDays_;
  plexus::Metric shipments_;  // shipping_shipments_total{outcome}
};

// POST /api/webhooks/fedex/tracking {trackingNumber, status, location, timestamp}, HMAC-signed
// (webhook_signature.hpp; config webhook_secret, webhook_previous_secret,
// webhook_tolerance_seconds).
class FedexTrackingWebhook final : public plexus::Route {
 public:
  explicit FedexTrackingWebhook(plexus::Host& host);
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;

 private:
  WebhookVerifier verifier_;
  plexus::Metric delivered_;  // shipping_deliveries_total
};

}  // namespace shipping
