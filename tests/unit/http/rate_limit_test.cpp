// Token bucket per client: burst, refill, Retry-After, bounded client table, client key.
#include "http/rate_limit.hpp"

#include <gtest/gtest.h>

namespace {

using plexus::http::RateLimiter;
using namespace std::chrono_literals;

TEST(RateLimit, BurstThenRefusedWithRetryAfter) {
  RateLimiter rl(2, 5, 100);
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.take("a", t0).allowed) << i;
  const auto refused = rl.take("a", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retryAfterSeconds, 1);  // 2 tokens/s: the next one in 0.5 s, rounded up
  // Another client has its own bucket.
  EXPECT_TRUE(rl.take("b", t0).allowed);
  // 500 ms later one token is back, and only one.
  EXPECT_TRUE(rl.take("a", t0 + 500ms).allowed);
  EXPECT_FALSE(rl.take("a", t0 + 500ms).allowed);
  // Refill never exceeds the burst.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.take("a", t0 + 1h).allowed) << i;
  EXPECT_FALSE(rl.take("a", t0 + 1h).allowed);
}

TEST(RateLimit, RetryAfterCoversASlowRate) {
  RateLimiter rl(1, 1, 10);
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  EXPECT_TRUE(rl.take("a", t0).allowed);
  auto d = rl.take("a", t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retryAfterSeconds, 1);
  d = rl.take("a", t0 + 200ms);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retryAfterSeconds, 1);
  EXPECT_TRUE(rl.take("a", t0 + 1s).allowed);
}

TEST(RateLimit, ClientTableIsBoundedLeastRecentlySeenGoesFirst) {
  RateLimiter rl(1, 1, 3);
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  EXPECT_TRUE(rl.take("keep", t0).allowed);
  for (int i = 0; i < 1000; ++i) {
    rl.take("c" + std::to_string(i), t0);
    EXPECT_FALSE(rl.take("keep", t0).allowed);  // touched every round: never evicted, still empty
  }
  EXPECT_EQ(rl.clients(), 3u);
  // An evicted client comes back with a full bucket.
  EXPECT_TRUE(rl.take("c0", t0).allowed);
}

TEST(RateLimit, ClientKey) {
  EXPECT_EQ(RateLimiter::clientKey("10.0.0.1", "1.2.3.4", false), "10.0.0.1");
  EXPECT_EQ(RateLimiter::clientKey("10.0.0.1", "", true), "10.0.0.1");
  // The last entry is the one the proxy appended; earlier ones are whatever the client sent.
  EXPECT_EQ(RateLimiter::clientKey("10.0.0.1", "6.6.6.6, 1.2.3.4", true), "1.2.3.4");
  EXPECT_EQ(RateLimiter::clientKey("10.0.0.1", " 1.2.3.4 ", true), "1.2.3.4");
  EXPECT_EQ(RateLimiter::clientKey("10.0.0.1", "1.2.3.4, ", true), "10.0.0.1");
  EXPECT_EQ(RateLimiter::clientKey("10.0.0.1", std::string(200, 'x'), true), "10.0.0.1");
}

}  // namespace
