#include "rebuild/applier.hpp"

#include "observability/log.hpp"
#include "plugin/unit_of_work.hpp"
#include "rebuild/shadow.hpp"
#include "store/message_rows.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

namespace plexus::rebuild {
namespace {
using store::placeholders;
constexpr const char* kBatchSavepoint = "plexus_rebuild_batch";
constexpr const char* kEventSavepoint = "plexus_rebuild_event";
}  // namespace

Applier::Applier(plugin::Runtime& runtime, plugin::Component& component)
    : runtime_(runtime), component_(component) {}

Counts Applier::apply(store::Transaction& tx, const std::vector<Message>& events) {
  Counts counts;
  if (events.empty()) return counts;
  std::vector<Value> ids;
  ids.reserve(events.size());
  for (const auto& e : events) ids.emplace_back(e.id);
  std::set<std::string> seen;
  for (const Row& r :
       tx.query("SELECT message_id FROM plexus_rebuild_ledger WHERE message_id IN (" +
                    placeholders(1, ids.size()) + ")",
                ids)) {
    seen.insert(r[0].asText());
  }
  std::vector<const Message*> fresh;
  for (const Message& e : events) {
    if (seen.insert(e.id).second) {
      fresh.push_back(&e);
    } else {
      ++counts.duplicates;
    }
  }
  // The common case first: the whole batch under one savepoint; the first event the perspective
  // does not take sends the batch the careful way, one savepoint per event.
  tx.savepoint(kBatchSavepoint);
  Counts done;
  if (!runAll(tx, fresh, false, done)) {
    tx.rollbackTo(kBatchSavepoint);
    done = Counts{};
    runAll(tx, fresh, true, done);
  }
  tx.release(kBatchSavepoint);
  record(tx, fresh);
  counts += done;
  return counts;
}

bool Applier::runAll(store::Transaction& tx, const std::vector<const Message*>& events,
                     bool careful, Counts& counts) {
  for (const Message* e : events) {
    if (careful) tx.savepoint(kEventSavepoint);
    plugin::Part part;
    const plugin::Delivery d = runtime_.deliver(component_, *e, &tx, part);
    plugin::runAfterCommit(part.afterCommit, false);  // nothing of a rebuild runs after commits
    if (d.status == PLEXUS_OK) {
      ++counts.applied;
      if (careful) tx.release(kEventSavepoint);
      continue;
    }
    if (d.status == PLEXUS_FATAL)
      throw RebuildError("the perspective failed on " + e->type + " " + e->id + ": " + d.reason);
    if (!careful) return false;
    if (d.status == PLEXUS_RETRY)
      throw store::SqlError("the perspective asked to retry " + e->id + ": " + d.reason, true);
    tx.rollbackTo(kEventSavepoint);  // REJECT: no effect, as it would have live
    tx.release(kEventSavepoint);
    ++counts.rejected;
    log::write(log::Level::Warn, "rebuild: the perspective rejected an event (no effect, as live)",
               nlohmann::json{{"component", component_.id},
                              {"message_id", e->id},
                              {"type", e->type},
                              {"reason", d.reason}});
  }
  return true;
}

// Rejected events too: they are not offered again. Deferred: they travel with the next round trip.
void Applier::record(store::Transaction& tx, const std::vector<const Message*>& events) {
  for (const Message* e : events) {
    tx.defer("INSERT INTO plexus_rebuild_ledger (message_id, occurred_at) VALUES ($1, $2)",
             {e->id, static_cast<long long>(e->timestampMs)});
  }
}

}  // namespace plexus::rebuild
