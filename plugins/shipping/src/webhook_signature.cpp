#include "webhook_signature.hpp"

#include <cstring>
#include <stdexcept>

namespace shipping {
namespace {

constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

// One 64-byte block into the state.
void compress(uint32_t h[8], const uint8_t* block) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = static_cast<uint32_t>(block[4 * i]) << 24 |
           static_cast<uint32_t>(block[4 * i + 1]) << 16 |
           static_cast<uint32_t>(block[4 * i + 2]) << 8 | static_cast<uint32_t>(block[4 * i + 3]);
  }
  for (int i = 16; i < 64; ++i) {
    const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; ++i) {
    const uint32_t t1 =
        k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
    const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += k;
}

constexpr size_t kBlock = 64;
const char* const kSignaturePrefix = "sha256=";

int64_t parseSeconds(const std::string& s) {
  if (s.empty() || s.size() > 12) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool isLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Digest sha256(std::string_view data) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  for (; n >= kBlock; n -= kBlock, p += kBlock) compress(h, p);
  // Padding: 0x80, zeros, then the length in bits, big-endian, in one or two final blocks.
  uint8_t tail[2 * kBlock] = {};
  std::memcpy(tail, p, n);
  tail[n] = 0x80;
  const size_t tailLen = n + 1 + 8 <= kBlock ? kBlock : 2 * kBlock;
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  for (int i = 0; i < 8; ++i) tail[tailLen - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  for (size_t off = 0; off < tailLen; off += kBlock) compress(h, tail + off);
  Digest out{};
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(h[i] >> (24 - 8 * j));
  }
  return out;
}

Digest hmacSha256(std::string_view key, std::string_view message) {
  uint8_t k[kBlock] = {};
  if (key.size() > kBlock) {
    const Digest kd = sha256(key);
    std::memcpy(k, kd.data(), kd.size());
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  std::string inner(kBlock, '\0'), outer(kBlock, '\0');
  for (size_t i = 0; i < kBlock; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  inner.append(message.data(), message.size());
  const Digest innerDigest = sha256(inner);
  outer.append(reinterpret_cast<const char*>(innerDigest.data()), innerDigest.size());
  return sha256(outer);
}

std::string toHex(const Digest& digest) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * digest.size());
  for (uint8_t b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

const char* refusalLabel(Refusal r) {
  switch (r) {
    case Refusal::Missing:
      return "missing";
    case Refusal::Malformed:
      return "malformed";
    case Refusal::Stale:
      return "stale";
    case Refusal::Mismatch:
      return "mismatch";
    case Refusal::None:
      break;
  }
  return "none";
}

WebhookKeys webhookKeys(const plexus::Json& config) {
  WebhookKeys keys;
  const auto secret = [&](const char* key) {
    if (!config.contains(key)) return std::string();
    if (!config[key].is_string())
      throw std::invalid_argument(std::string("config ") + key + " must be a string");
    const std::string s = config[key].get<std::string>();
    if (!s.empty() && s.size() < 32) {
      throw std::invalid_argument(std::string("config ") + key +
                                  " must be at least 32 bytes (e.g. openssl rand -hex 32)");
    }
    return s;
  };
  keys.secret = secret("webhook_secret");
  if (keys.secret.empty()) {
    throw std::invalid_argument(
        "config webhook_secret is required: the carrier webhook accepts only signed requests");
  }
  keys.previousSecret = secret("webhook_previous_secret");
  const plexus::Json tol = config.value("webhook_tolerance_seconds", plexus::Json(300));
  const int64_t t = tol.is_number_integer() ? tol.get<int64_t>()
                    : tol.is_string()       ? parseSeconds(tol.get<std::string>())
                                            : -1;
  if (t < 1 || t > 3600)
    throw std::invalid_argument("config webhook_tolerance_seconds must be 1-3600");
  keys.toleranceSeconds = t;
  return keys;
}

Refusal verifyWebhook(const WebhookKeys& keys, const std::optional<std::string>& timestamp,
                      const std::optional<std::string>& signature, std::string_view body,
                      int64_t nowMs) {
  if (!timestamp || !signature || timestamp->empty() || signature->empty()) return Refusal::Missing;
  const int64_t ts = parseSeconds(*timestamp);
  if (ts < 0) return Refusal::Malformed;
  const int64_t skew = nowMs / 1000 - ts;
  if (skew > keys.toleranceSeconds || skew < -keys.toleranceSeconds) return Refusal::Stale;

  std::string message = *timestamp;
  message.push_back('.');
  message.append(body.data(), body.size());
  const std::string expected = toHex(hmacSha256(keys.secret, message));
  const std::string previous =
      keys.previousSecret.empty() ? std::string() : toHex(hmacSha256(keys.previousSecret, message));

  bool matched = false, wellFormed = false;
  std::string_view rest = *signature;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.rfind(kSignaturePrefix, 0) != 0) continue;
    part.remove_prefix(std::strlen(kSignaturePrefix));
    if (!isLowerHex64(part)) continue;
    wellFormed = true;
    // Every candidate is compared, so the time taken does not tell which one matched.
    matched |= constantTimeEquals(part, expected);
    if (!previous.empty()) matched |= constantTimeEquals(part, previous);
  }
  if (!wellFormed) return Refusal::Malformed;
  return matched ? Refusal::None : Refusal::Mismatch;
}

WebhookVerifier::WebhookVerifier(plexus::Host& host)
    : keys_(webhookKeys(host.config())),
      refused_(host.counter("shipping_webhook_refused_total",
                            "Carrier webhook requests refused with 401, by reason (missing, "
                            "malformed, stale or mismatched signature).",
                            {"reason"})) {
  if (keys_.secret.rfind("dev-only-", 0) == 0) {
    host.log(plexus::LogLevel::Warn,
             "webhook_secret is the development default: set PLEXUS_SHIPPING_WEBHOOK_SECRET");
  }
}

std::optional<plexus::Response> WebhookVerifier::refuse(const plexus::Request& req,
                                                        int64_t nowMs) const {
  const Refusal r = verifyWebhook(keys_, req.header("X-Webhook-Timestamp"),
                                  req.header("X-Webhook-Signature"), req.body(), nowMs);
  if (r == Refusal::None) return std::nullopt;
  refused_.increment({refusalLabel(r)});
  return plexus::Response::error(
      401, std::string("webhook signature ") + refusalLabel(r) +
               ": sign \"<X-Webhook-Timestamp>.<body>\" with HMAC-SHA256 (docs/api.md)");
}

}  // namespace shipping
