#pragma once
// Time is a dependency: the host asks a Clock, never the system directly, so scheduling, retry
// backoff, leases and retention can be unit-tested with a ManualClock.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace plexus {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix milliseconds (stored in the database, compared across hosts).
  virtual int64_t nowMs() const = 0;
};

// The process's wall clock.
Clock& systemClock();

// A clock that moves only when told to (tests).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t startMs = 1700000000000) : now_(startMs) {}
  int64_t nowMs() const override { return now_.load(); }
  void set(int64_t ms) { now_ = ms; }
  void advance(std::chrono::milliseconds by) { now_ += by.count(); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace plexus
