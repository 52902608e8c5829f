#include "base/uuid.hpp"

#include <chrono>
#include <cstdint>
#include <random>

namespace plexus {

std::string newUuidV7() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  const uint64_t r1 = rng();
  const uint64_t r2 = rng();
  const unsigned randA = static_cast<unsigned>(r1 & 0x0fff);
  const uint64_t randB = (r2 & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  // Formatted by hand: one id per message sent, and snprintf cost more than the rest of it.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t at = 0;
  auto hex = [&](uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i) {
      out[at + static_cast<size_t>(i)] = kHex[v & 0xf];
      v >>= 4;
    }
    at += static_cast<size_t>(digits);
  };
  hex(ms >> 16, 8);
  ++at;
  hex(ms & 0xffff, 4);
  ++at;
  hex(0x7000u | randA, 4);
  ++at;
  hex(randB >> 48, 4);
  ++at;
  hex(randB & 0xffffffffffffULL, 12);
  return out;
}

}  // namespace plexus
