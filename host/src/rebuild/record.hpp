#pragma once
// The plexus_rebuilds rows (framework migration 5): one per rebuild of a perspective's read model,
// with its progress and where the replaced copy waits for its drop. Every replica, the admin API
// and the `rebuild` command read the same rows.

#include "store/store.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace plexus::rebuild {

// States: preparing -> replaying -> catching-up -> switching -> switched -> dropped; or failed /
// cancelled (the shadow is discarded, the old model stays).
struct Record {
  std::string id;
  std::string component;  // "plugin/perspective"
  std::string state;
  std::string source;   // "local" (this deployment's event store) | "broker" (replay requests)
  std::string shadow;   // where the new model is built
  std::string retired;  // where the replaced model waits (after the switch)
  std::vector<std::string> tables;
  int64_t events = 0;      // applied to the shadow
  int64_t duplicates = 0;  // skipped: already applied (replay and live overlap)
  int64_t rejected = 0;    // the perspective rejected them (as it would live: no effect)
  int64_t lag = 0;         // events known and not applied yet
  std::string owner;       // the host instance (or rebuild command) running it
  int64_t startedAt = 0, updatedAt = 0;
  std::optional<int64_t> switchedAt, dropAfter, droppedAt;
  std::string error;

  bool active() const;
  nlohmann::json toJson() const;  // the admin API's form (camelCase, RFC 3339 times)
};

namespace records {

// Inserts `r` unless a rebuild of the same component is active and was updated since
// `aliveSinceMs`; false then. One statement, and a write: with SQLite it takes the write lock
// before it reads (a read first could not be upgraded while another process writes).
bool insertUnlessRunning(store::Transaction& tx, const Record& r, int64_t aliveSinceMs);
// Progress and state (everything but the id, component, source, owner and start).
void update(store::Transaction& tx, const Record& r);
std::optional<Record> get(store::Transaction& tx, const std::string& id);
// Newest first.
std::vector<Record> list(store::Transaction& tx, int limit);
// An active rebuild of `component` updated since `aliveSinceMs`.
std::optional<Record> running(store::Transaction& tx, const std::string& component,
                              int64_t aliveSinceMs);
// Switched rebuilds whose grace period ended, and active ones nobody updated since `staleBefore`.
std::vector<Record> expired(store::Transaction& tx, int64_t nowMs, int64_t staleBeforeMs);
// Moves `id` from state `from` to `to`; false when another replica did first.
bool claim(store::Transaction& tx, const std::string& id, const std::string& from,
           const std::string& to, int64_t nowMs);

}  // namespace records
}  // namespace plexus::rebuild
