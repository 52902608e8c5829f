#pragma once
// How far the outbox is behind: pending rows and the age of the oldest, for readiness and the
// plexus_outbox_* gauges.

#include <cstdint>

namespace plexus {
class Clock;
class Metrics;
}  // namespace plexus
namespace plexus::store {
class Store;
}

namespace plexus::dispatch {

class OutboxMonitor {
 public:
  OutboxMonitor(store::Store& store, const Clock& clock, Metrics& metrics);

  struct Reading {
    int64_t pending = 0;
    int64_t oldestAgeMs = 0;  // 0 when nothing is pending
  };
  // Reads the outbox and updates the gauges. Throws store::SqlError.
  Reading read();

 private:
  store::Store& store_;
  const Clock& clock_;
  Metrics& metrics_;
  int64_t pendingMetric_ = 0, ageMetric_ = 0;
};

}  // namespace plexus::dispatch
