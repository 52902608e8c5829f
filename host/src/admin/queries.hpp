#pragma once
// Every SQL statement of the admin API and the console, in one place: reads of the framework
// tables (host/src/store/migrations.cpp) for dead letters, streams, messages and migrations.
// When the stored message format changes, this file is what follows it.

#include "message/message.hpp"
#include "store/dead_letters.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace plexus::admin::queries {

// Dead letters matching every given field; empty fields and open time bounds match all.
struct DeadLetterFilter {
  std::string type;     // exact message type
  std::string handler;  // exact handler id ("plugin/component")
  std::string reason;   // case-insensitive substring of the reason
  int64_t sinceMs = 0;  // last failure at or after
  int64_t untilMs = std::numeric_limits<int64_t>::max();  // last failure at or before
};

// Keyset pagination, newest first: the page after (lastFailedAt, id).
struct DeadLetterCursor {
  int64_t lastFailedAtMs = std::numeric_limits<int64_t>::max();
  std::string id;
};

using DeadLetterRow = store::dead_letters::DeadLetter;

std::vector<DeadLetterRow> deadLetters(store::Transaction& tx, const DeadLetterFilter& f,
                                       const DeadLetterCursor& after, int limit);
int64_t countDeadLetters(store::Transaction& tx, const DeadLetterFilter& f);
std::optional<DeadLetterRow> deadLetter(store::Transaction& tx, const std::string& id);

// One event of a stream, with its metadata (the event store keeps it).
struct EventRow {
  int64_t version = 0;
  int64_t createdAtMs = 0;  // commit time of the emitting transaction
  Message message;
};
std::vector<EventRow> streamEvents(store::Transaction& tx, const std::string& stream,
                                   int64_t afterVersion, int limit);

// A message by id: an event (version >= 1) or any outgoing message still in the outbox.
struct MessageRow {
  int64_t version = 0;  // 0 when not in the event store
  int64_t createdAtMs = 0;
  Message message;
};
std::optional<MessageRow> message(store::Transaction& tx, const std::string& id);
// The events and retained outgoing commands of one correlation id, oldest first (`correlation`
// must be a plain id, see admin::validId).
std::vector<MessageRow> correlated(store::Transaction& tx, const std::string& correlation,
                                   int limit);

struct MigrationRow {
  std::string owner;
  int64_t version = 0;
  std::string name;
  int64_t appliedAtMs = 0;
};
std::vector<MigrationRow> migrations(store::Transaction& tx);

}  // namespace plexus::admin::queries
