#pragma once
// Stored deliveries (plexus_deliveries): a message waiting for one local handler, because it
// failed and waits for its retry, or because an earlier message of its stream waits. Claimed by
// one replica at a time (a lease), run in seq order per (stream, handler), deleted once handled.

#include "message/message.hpp"
#include "store/store.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace plexus::store::deliveries {

struct Delivery {
  int64_t seq = 0;
  std::string handler;
  Message message;  // message.attempt = the attempt this delivery is
  int64_t dueAt = 0;
  int64_t firstFailedAt = 0;  // 0 = never failed
  std::string claimedBy;
  int64_t claimedUntil = 0;
};

using StreamHandler = std::pair<std::string, std::string>;  // (stream id, handler)

// First attempt, due now. A broker redelivery of a message not yet handled is the same delivery
// (nothing is stored twice).
void add(Transaction& tx, const Message& m, const std::string& handler, int64_t nowMs,
         bool deferred = false);
// A retry of a message that ran straight from the broker and failed: `attempt` is the next one.
void addRetry(Transaction& tx, const Message& m, const std::string& handler, int64_t attempt,
              int64_t dueAt, const std::string& error, int64_t nowMs);

// The oldest `limit` deliveries in seq order (the scheduler picks each stream's head).
std::vector<Delivery> head(Transaction& tx, int limit);
// Claims delivery `seq` for `instance` until `leaseUntil`, unless it was handled, moved to another
// attempt, is not due, or is held by another live instance. True when claimed.
bool claim(Transaction& tx, int64_t seq, int64_t attempt, const std::string& instance,
           int64_t nowMs, int64_t leaseUntil);
void remove(Transaction& tx, int64_t seq);
// The next attempt of a claimed delivery, due at `dueAt`; the claim is released.
void reschedule(Transaction& tx, int64_t seq, int64_t dueAt, const std::string& error,
                int64_t nowMs);

// (stream, handler) pairs with a delivery waiting. More than `scanLimit`: `overflow` is set and
// the caller asks per stream (waiting()).
std::set<StreamHandler> waitingAll(Transaction& tx, int scanLimit, bool& overflow);
bool waiting(Transaction& tx, const std::string& stream, const std::string& handler);

// One round trip for a consumed batch: what waits (as waitingAll) and which of `ids` the inbox
// already holds (as inbox::handledAmong).
struct Snapshot {
  std::set<StreamHandler> waiting;
  std::set<std::pair<std::string, std::string>> handled;  // (message id, handler)
  bool overflow = false;
};
Snapshot snapshot(Transaction& tx, int scanLimit, const std::vector<std::string>& ids);

}  // namespace plexus::store::deliveries
