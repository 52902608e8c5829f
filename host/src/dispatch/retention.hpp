#pragma once
// Retention (DESIGN.md §3): processed inbox rows older than the retention period are purged; the
// inbox keeps dedupe keys long enough to cover any redelivery (default 7 days). Published outbox
// rows leave the outbox when published (store/outbox.hpp); those kept for inspection
// (keep_published_hours) are purged after that time; dead letters stay until retried or
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
  // `keepPublishedMs`: how long plexus_published keeps published messages (0: nothing is kept).
  Retention(store::Store& store, const Clock& clock, int64_t retentionMs,
            int64_t keepPublishedMs = 0)
      : store_(store),
        clock_(clock),
        retentionMs_(retentionMs),
        keepPublishedMs_(keepPublishedMs) {}

  // Rows older than now - retention (and kept published messages older than theirs). Returns the
  // rows deleted.
  int64_t cutoffMs() const;
  int64_t purge();

 private:
  store::Store& store_;
  const Clock& clock_;
  int64_t retentionMs_;
  int64_t keepPublishedMs_;
};

}  // namespace plexus::dispatch
