#include "base/uuid.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
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
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(ms >> 16),
                static_cast<unsigned>(ms & 0xffff), 0x7000u | randA,
                static_cast<unsigned>(randB >> 48),
                static_cast<unsigned long long>(randB & 0xffffffffffffULL));
  return std::string(buf, 36);
}

}  // namespace plexus
