#pragma once
// Retention (DESIGN.md §3): processed inbox rows older than the retention period are purged; the
// inbox keeps dedupe keys long enough to cover any redelivery (default 7 days). Published outbox
// rows are deleted when published (store/outbox.hpp); dead letters stay until retried or
// discarded; the event store keeps everything.

#include <cstdint>

namespace plexus {
class Clock;
}
namespace plexus::store {
class Store;
}

namespace plexus::dispatch {

class Retention {
 public:
  Retention(store::Store& store, const Clock& clock, int64_t retentionMs)
      : store_(store), clock_(clock), retentionMs_(retentionMs) {}

  // Rows older than now - retention. Returns the inbox rows deleted.
  int64_t cutoffMs() const;
  int64_t purge();

 private:
  store::Store& store_;
  const Clock& clock_;
  int64_t retentionMs_;
};

}  // namespace plexus::dispatch
