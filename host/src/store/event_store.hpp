#pragma once
// The event store (plexus_events): every event a deployment emits, per stream in version order,
// with its metadata. Appended in the emitting transaction (store/outbox.hpp).

#include "message/message.hpp"
#include "store/store.hpp"

#include <vector>

namespace plexus::store::event_store {

struct StoredEvent {
  int64_t version = 0;
  int64_t recordedAt = 0;  // commit time of the emitting transaction (Unix ms)
  Message message;
};

// Appends at the stream's next version. A clash with another writer of the stream is an SqlError
// (unique stream + version); non-deferred appends report it as transient (retry).
void append(Transaction& tx, const Message& event, int64_t nowMs, bool deferred);

// A batch of events in one multi-row statement, deferred to the transaction's next round trip;
// several events of one stream get consecutive versions in batch order.
void appendBatch(Transaction& tx, const std::vector<Message>& events, int64_t nowMs);

// The event read from row `r` at column `first` on: message_id, type, payload, correlation_id,
// causation_id, source, traceparent, content_type, occurred_at (as read() selects them).
Message eventFrom(const Row& r, size_t first);

// Events of `stream` with version > afterVersion, oldest first, at most `limit`.
std::vector<StoredEvent> read(Transaction& tx, const std::string& stream, int64_t afterVersion,
                              int limit);

}  // namespace plexus::store::event_store
