#pragma once
// Per-client token bucket (http.limits.rate_per_second / burst). A client is its peer address, or
// the last X-Forwarded-For entry when trust_forwarded_for is on (only behind a proxy that appends
// it; a client can put anything in the entries before). The client table is bounded: at
// max_clients the least recently seen client is dropped, which at worst hands it a fresh bucket.

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace plexus::http {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  struct Decision {
    bool allowed = true;
    int retryAfterSeconds = 0;  // when refused: whole seconds until a token is there (>= 1)
  };

  // ratePerSecond > 0, burst > 0, maxClients > 0.
  RateLimiter(int ratePerSecond, int burst, size_t maxClients);

  Decision take(const std::string& client, Clock::time_point now = Clock::now());
  size_t clients() const;

  // The rate-limit key: the peer address, or with trustForwardedFor the last entry of
  // X-Forwarded-For (the address the proxy saw), falling back to the peer when it is empty.
  static std::string clientKey(const std::string& peer, const std::string& forwardedFor,
                               bool trustForwardedFor);

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
    std::list<std::string>::iterator lru;
  };
  const double rate_;
  const double burst_;
  const size_t maxClients_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::list<std::string> lru_;  // front = most recently seen
};

}  // namespace plexus::http
