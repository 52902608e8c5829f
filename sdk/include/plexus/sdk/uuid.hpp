#pragma once
// UUIDs (RFC 9562): make a UUIDv7 (time-ordered, so ids sort by creation) and check text that
// claims to be a UUID. Header-only. Inside a hook prefer `ctx.newId()`, which asks the host (and is
// deterministic under the SDK fakes); these are for code that runs without a host.
//
//   plexus::uuid::v7()                  -> "019b7a38-7c40-7d5e-9f0a-4c1b2e3d4f50"
//   plexus::uuid::valid("019B7A38-...")  -> true (any version, either case)

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace plexus::uuid {

// A UUIDv7 from its parts: 48 bits of Unix ms, then 74 random bits taken from `randA` (12) and
// `randB` (62). Canonical form: 36 lowercase characters.
inline std::string v7(int64_t unixMs, uint64_t randA, uint64_t randB) {
  const auto ms = static_cast<uint64_t>(unixMs) & 0xffffffffffffULL;
  const auto a = static_cast<unsigned>(randA & 0x0fff);
  const uint64_t b = (randB & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  // Formatted by hand: the host makes one per message it sends, and snprintf cost more than the
  // rest of the message's metadata together.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t at = 0;
  auto hex = [&](uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) {
      out[at + static_cast<size_t>(i)] = kHex[v & 0xf];
      v >>= 4;
    }
    at += static_cast<size_t>(n) + 1;  // and the dash after it
  };
  hex(ms >> 16, 8);
  hex(ms & 0xffff, 4);
  hex(0x7000u | a, 4);
  hex(b >> 48, 4);
  hex(b & 0xffffffffffffULL, 12);
  return out;
}

// A new UUIDv7 for now (wall clock), random bits from a per-thread generator.
inline std::string v7() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const uint64_t a = rng();
  const uint64_t b = rng();
  return v7(ms, a, b);
}

// 8-4-4-4-12 hex digits, either case.
inline bool valid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

// A valid UUID whose version nibble is 7 and variant bits are 10.
inline bool isV7(std::string_view s) {
  if (!valid(s) || s[14] != '7') return false;
  const char v = s[19];
  return v == '8' || v == '9' || v == 'a' || v == 'b' || v == 'A' || v == 'B';
}

// Unix ms of a UUIDv7 (its first 48 bits); -1 when `s` is not one.
inline int64_t timestampMs(std::string_view s) {
  if (!isV7(s)) return -1;
  int64_t ms = 0;
  for (size_t i = 0; i < 13; ++i) {
    if (i == 8) continue;
    const char c = s[i];
    const int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    ms = ms * 16 + d;
  }
  return ms;
}

}  // namespace plexus::uuid
