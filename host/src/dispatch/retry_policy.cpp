#include "dispatch/retry_policy.hpp"

#include <algorithm>
#include <random>

namespace plexus::dispatch {
namespace {
double randomJitter() {
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.8, 1.2);
  return factor(rng);
}
}  // namespace

RetryPolicy::RetryPolicy(RetryOptions options, std::function<double()> jitter)
    : options_(options), jitter_(jitter ? std::move(jitter) : randomJitter) {}

int64_t RetryPolicy::nextDelayMs(plexus_status status, int64_t attempt) const {
  if (status == PLEXUS_REJECT || attempt >= options_.maxAttempts) return -1;
  return backoffMs(attempt);
}

int64_t RetryPolicy::backoffMs(int64_t attempt) const {
  double ms = options_.retryInitialMs;
  for (int64_t i = 1; i < attempt && ms < options_.retryMaxMs; ++i) ms *= 2;
  ms = std::min<double>(ms, options_.retryMaxMs);
  return static_cast<int64_t>(ms * jitter_());
}

}  // namespace plexus::dispatch
