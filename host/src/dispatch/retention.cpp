#include "dispatch/retention.hpp"

#include "base/clock.hpp"
#include "observability/log.hpp"
#include "store/inbox.hpp"
#include "store/outbox.hpp"

#include <nlohmann/json.hpp>

namespace plexus::dispatch {

int64_t Retention::cutoffMs() const { return clock_.nowMs() - retentionMs_; }

int64_t Retention::purge() {
  const int64_t cutoff = cutoffMs();
  auto tx = store_.begin();
  const int64_t inbox = store::inbox::purge(*tx, cutoff);
  tx->commit();
  if (inbox > 0)
    log::write(log::Level::Info, "retention purge", nlohmann::json{{"inbox_rows", inbox}});
  return inbox;
}

}  // namespace plexus::dispatch
