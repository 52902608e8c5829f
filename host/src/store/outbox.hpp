#pragma once
// Writing a handler's outgoing messages in its own transaction: events are appended to the event
// store (stream + version unique) and every message to the outbox, so nothing is published
// unless the transaction commits.

#include "store/envelope.hpp"
#include "store/store.hpp"

#include <vector>

namespace plexus::store {

struct Outgoing {
  Envelope envelope;
  int64_t deliverAtMs = 0;  // 0 = now
};

// Throws SqlError; a clash on the event stream version is reported as transient (retry).
// `deferred`: the statements go with the transaction's next round trip (Transaction::defer), and
// a failure surfaces there, untranslated.
void appendOutgoing(Transaction& tx, const std::vector<Outgoing>& messages, int64_t nowMs,
                    bool deferred = false);

}  // namespace plexus::store
