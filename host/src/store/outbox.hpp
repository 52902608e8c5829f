#pragma once
// The outbox (plexus_outbox): what a handler sends, written in its own transaction so nothing is
// published unless it commits; the relay publishes due rows in seq order and deletes them, so the
// table holds only what waits (scheduled messages included) and its cost stays flat.

#include "message/message.hpp"
#include "store/store.hpp"

#include <vector>

namespace plexus::store {

struct Outgoing {
  Message message;
  int64_t deliverAtMs = 0;  // 0 = now; later = a scheduled message
};

// Events go to the event store too. Throws SqlError; a clash on an event stream's version is
// reported as transient (retry). `deferred`: the statements travel with the transaction's next
// round trip (Transaction::defer) and a failure surfaces there, untranslated.
void appendOutgoing(Transaction& tx, const std::vector<Outgoing>& messages, int64_t nowMs,
                    bool deferred = false);
// The same for a whole batch in two multi-row statements (events, outbox), both deferred to the
// transaction's next round trip. A clash on an event stream's version surfaces there.
void appendOutgoingBatch(Transaction& tx, const std::vector<Outgoing>& messages, int64_t nowMs);

namespace outbox {

struct Row {
  int64_t seq = 0;
  Message message;  // kind "dead-letter": a copy for the broker's dead-letter queue
};

// Due rows in seq order, claimed for this transaction (other replicas skip them).
std::vector<Row> claimDue(Transaction& tx, const Dialect& dialect, int64_t nowMs, int limit);
// Published (or delivered locally): gone from the outbox.
void remove(Transaction& tx, const std::vector<int64_t>& seqs);
// Kept for inspection before remove(): copied to plexus_published (transport.keep_published_hours).
void archive(Transaction& tx, const std::vector<int64_t>& seqs, int64_t nowMs);
// Retention of what archive() kept: rows published before `cutoff`. Returns the rows deleted.
int64_t purgeArchive(Transaction& tx, int64_t cutoffMs);
// The earliest deliver_at of a row still waiting (a scheduled message), 0 when none.
int64_t nextDueAt(Transaction& tx);
// A copy of a dead-lettered message for the broker's dead-letter queue.
void appendDeadLetterCopy(Transaction& tx, const Message& failed, int64_t nowMs);

struct Backlog {
  int64_t pending = 0;      // due and not yet published
  int64_t oldestDueAt = 0;  // 0 when none
};
Backlog backlog(Transaction& tx, int64_t nowMs);

}  // namespace outbox
}  // namespace plexus::store
