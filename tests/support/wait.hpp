#pragma once
// Waiting on a condition with a deadline (tests never sleep as synchronisation).

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

}  // namespace plexus::test
