#pragma once
// When a failed attempt is tried again, and when it is given up: exponential backoff with jitter
// (never a hot loop), capped; a REJECT or the last attempt becomes a dead letter.

#include <plexus/abi/plugin_abi.h>

#include <cstdint>
#include <functional>

namespace plexus::dispatch {

struct RetryOptions {
  int maxAttempts = 5;
  int retryInitialMs = 200;
  int retryMaxMs = 60000;
};

class RetryPolicy {
 public:
  // `jitter` returns a factor in [0.8, 1.2) (a random one by default: spreads a burst's retries).
  explicit RetryPolicy(RetryOptions options, std::function<double()> jitter = {});

  // -1: give up (dead letter). Else the delay before the next attempt after `attempt` failed.
  int64_t nextDelayMs(plexus_status status, int64_t attempt) const;
  // initial * 2^(attempt-1), capped at the maximum, times the jitter.
  int64_t backoffMs(int64_t attempt) const;
  int maxAttempts() const { return options_.maxAttempts; }

 private:
  RetryOptions options_;
  std::function<double()> jitter_;
};

}  // namespace plexus::dispatch
