#pragma once
// Waiting on a condition with a deadline (tests never sleep as synchronisation), and elapsed time.

#include <chrono>
#include <functional>
#include <thread>

namespace plexus::test {

inline bool eventually(const std::function<bool()>& condition, int timeoutMs = 30000,
                       int pollMs = 50) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(pollMs));  // polling a bounded condition
  }
  return condition();
}

// Milliseconds since `start` (for the figures tests print).
inline double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace plexus::test
