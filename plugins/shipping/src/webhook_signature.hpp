#pragma once
// HMAC-SHA256 signatures on the carrier tracking webhook (docs/api.md, "Webhook signatures").
//
// The sender signs "<timestamp>.<raw body>" with the shared secret and sends
//   X-Webhook-Timestamp: <unix seconds>
//   X-Webhook-Signature: sha256=<64 lowercase hex digits>[,sha256=<hex>...]
// (several signatures while the sender rotates its secret). A request is accepted when one of
// them matches the current or the previous secret (compared in constant time) and the timestamp
// is within the tolerance of the host's clock; anything else is answered 401 before the body is
// parsed, and counted in shipping_webhook_refused_total{reason}.
//
// Plugins link only the SDK (no Poco, no OpenSSL), so SHA-256 (FIPS 180-4) and HMAC (RFC 2104)
// are implemented here, checked against the published test vectors.

#include <plexus/sdk/plugin.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shipping {

using Digest = std::array<uint8_t, 32>;

Digest sha256(std::string_view data);
Digest hmacSha256(std::string_view key, std::string_view message);
std::string toHex(const Digest& digest);
// Equal length and content, in time that depends only on the length.
bool constantTimeEquals(std::string_view a, std::string_view b);

// Why a request was refused; None when it was accepted.
enum class Refusal { None, Missing, Malformed, Stale, Mismatch };
const char* refusalLabel(Refusal r);  // the metric label: missing, malformed, stale, mismatch

struct WebhookKeys {
  std::string secret;
  std::string previousSecret;  // empty: none
  int64_t toleranceSeconds = 300;
};

// Reads webhook_secret (at least 32 bytes), webhook_previous_secret (optional) and
// webhook_tolerance_seconds (1-3600, default 300) from the plugin config; throws
// std::invalid_argument naming the key when one is bad.
WebhookKeys webhookKeys(const plexus::Json& config);

// The pure check, for tests and for the route below.
Refusal verifyWebhook(const WebhookKeys& keys, const std::optional<std::string>& timestamp,
                      const std::optional<std::string>& signature, std::string_view body,
                      int64_t nowMs);

// What the route holds: the keys and the refusal counter.
class WebhookVerifier {
 public:
  explicit WebhookVerifier(plexus::Host& host);
  // nullopt when the request is signed and fresh; otherwise the 401 to send (already counted).
  std::optional<plexus::Response> refuse(const plexus::Request& req, int64_t nowMs) const;

 private:
  WebhookKeys keys_;
  plexus::Metric refused_;  // shipping_webhook_refused_total{reason}
};

}  // namespace shipping
