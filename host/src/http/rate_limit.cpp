#include "http/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace plexus::http {

RateLimiter::RateLimiter(int ratePerSecond, int burst, size_t maxClients)
    : rate_(ratePerSecond), burst_(burst), maxClients_(maxClients) {}

RateLimiter::Decision RateLimiter::take(const std::string& client, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= maxClients_) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(client);
    it = buckets_.emplace(client, Bucket{burst_, now, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    const double elapsed = std::chrono::duration<double>(now - it->second.updated).count();
    if (elapsed > 0) {
      it->second.tokens = std::min(burst_, it->second.tokens + elapsed * rate_);
      it->second.updated = now;
    }
  }
  Bucket& b = it->second;
  Decision d;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return d;
  }
  d.allowed = false;
  d.retryAfterSeconds = std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / rate_)));
  return d;
}

size_t RateLimiter::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

std::string RateLimiter::clientKey(const std::string& peer, const std::string& forwardedFor,
                                   bool trustForwardedFor) {
  if (!trustForwardedFor || forwardedFor.empty()) return peer;
  const size_t comma = forwardedFor.rfind(',');
  std::string last = comma == std::string::npos ? forwardedFor : forwardedFor.substr(comma + 1);
  const auto notSpace = [](unsigned char c) { return c != ' ' && c != '\t'; };
  last.erase(last.begin(), std::find_if(last.begin(), last.end(), notSpace));
  last.erase(std::find_if(last.rbegin(), last.rend(), notSpace).base(), last.end());
  // Bounded key size: a garbage header must not grow the table's memory per entry.
  if (last.empty() || last.size() > 64) return peer;
  return last;
}

}  // namespace plexus::http
