#pragma once
// The inbox (plexus_inbox): one row per (message id, handler) that committed, so a redelivered
// message is handled once. Kept for the retention period (long enough to cover redelivery).

#include "store/store.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace plexus::store::inbox {

bool handled(Transaction& tx, const std::string& messageId, const std::string& handler);
// The (message id, handler) pairs among `messageIds` that were handled.
std::set<std::pair<std::string, std::string>> handledAmong(Transaction& tx,
                                                           const std::vector<std::string>& ids);
void record(Transaction& tx, const std::string& messageId, const std::string& handler,
            int64_t nowMs, bool deferred = false);
// Several in one multi-row statement, deferred to the transaction's next round trip.
void recordAll(Transaction& tx, const std::vector<std::pair<std::string, std::string>>& keys,
               int64_t nowMs);
// Retention: rows processed before `cutoff`. Returns the rows deleted.
int64_t purge(Transaction& tx, int64_t cutoffMs);

}  // namespace plexus::store::inbox
