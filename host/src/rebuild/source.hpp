#pragma once
// Where a rebuild gets the events its perspective subscribes to. LocalSource: this deployment's
// own event store (embedded: every event of the system is there). BrokerSource: every
// deployment's event store, through replay requests answered over the broker, plus a tap queue on
// the events exchange for what is published meanwhile (docs/architecture.md, "Rebuilding across
// deployments"). Each yields every event in stream order; the ledger drops repeats.

#include "message/message.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace plexus::rebuild {

class Source {
 public:
  virtual ~Source() = default;
  virtual const char* name() const = 0;  // "local" | "broker"
  // The next events of the history, oldest first per stream; empty once the history is done.
  // `tx` is a shadow transaction (it sees the event store and the ledger).
  virtual std::vector<Message> history(store::Transaction& tx, int limit) = 0;
  // Events that arrived since the history was read and are not applied yet; empty when caught up.
  virtual std::vector<Message> recent(store::Transaction& tx, int limit) = 0;
  // In the switch transaction, with the live perspective held still: the events it handled since
  // `sinceMs` that the shadow has not applied (they must be in before the switch).
  virtual std::vector<Message> missing(store::Transaction& tx, const std::string& handler,
                                       int64_t sinceMs) = 0;
  // Events known and not applied yet (progress), -1 when unknown.
  virtual int64_t lag(store::Transaction& tx) = 0;
  // What was handed out since the last call went into a committed transaction / was rolled back
  // (rewind: hand it out again).
  virtual void committed() = 0;
  virtual void rewind() = 0;
};

}  // namespace plexus::rebuild
