#include "rebuild/applier.hpp"

#include "observability/log.hpp"
#include "plugin/unit_of_work.hpp"
#include "rebuild/shadow.hpp"
#include "store/message_rows.hpp"

#include <nlohmann/json.hpp>

#include <set>

namespace plexus::rebuild {
namespace {
constexpr const char* kSavepoint = "plexus_rebuild_event";
}

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
       tx.query(std::string("SELECT message_id FROM ") + kLedger + " WHERE message_id IN (" +
                    store::placeholders(1, ids.size()) + ")",
                ids)) {
    seen.insert(r[0].asText());
  }
  const std::string record =
      std::string("INSERT INTO ") + kLedger + " (message_id, occurred_at) VALUES ($1, $2)";
  for (const Message& e : events) {
    if (!seen.insert(e.id).second) {
      ++counts.duplicates;
      continue;
    }
    tx.savepoint(kSavepoint);
    plugin::Part part;
    const plugin::Delivery d = runtime_.deliver(component_, e, &tx, part);
    plugin::runAfterCommit(part.afterCommit, false);  // nothing of a rebuild runs after commits
    if (d.status == PLEXUS_RETRY)
      throw store::SqlError("the perspective asked to retry " + e.id + ": " + d.reason, true);
    if (d.status == PLEXUS_FATAL)
      throw RebuildError("the perspective failed on " + e.type + " " + e.id + ": " + d.reason);
    if (d.status == PLEXUS_REJECT) {
      tx.rollbackTo(kSavepoint);
      ++counts.rejected;
      log::write(log::Level::Warn,
                 "rebuild: the perspective rejected an event (no effect, as live)",
                 nlohmann::json{{"component", component_.id},
                                {"message_id", e.id},
                                {"type", e.type},
                                {"reason", d.reason}});
    } else {
      ++counts.applied;
    }
    tx.release(kSavepoint);
    tx.defer(record, {e.id, static_cast<long long>(e.timestampMs)});
  }
  return counts;
}

}  // namespace plexus::rebuild
