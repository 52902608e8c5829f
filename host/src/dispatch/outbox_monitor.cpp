#include "dispatch/outbox_monitor.hpp"

#include "base/clock.hpp"
#include "dispatch/metric_ids.hpp"
#include "store/outbox.hpp"

namespace plexus::dispatch {

OutboxMonitor::OutboxMonitor(store::Store& store, const Clock& clock, Metrics& metrics)
    : store_(store), clock_(clock), metrics_(metrics) {
  pendingMetric_ = defineMetric(metrics_, Metrics::Kind::Gauge, "plexus_outbox_pending",
                                "Outbox rows due and not yet published.", {});
  ageMetric_ = defineMetric(metrics_, Metrics::Kind::Gauge, "plexus_outbox_oldest_age_seconds",
                            "Age of the oldest due, unpublished outbox row.", {});
}

OutboxMonitor::Reading OutboxMonitor::read() {
  const int64_t now = clock_.nowMs();
  auto tx = store_.begin();
  const store::outbox::Backlog b = store::outbox::backlog(*tx, now);
  tx->commit();
  Reading r;
  r.pending = b.pending;
  r.oldestAgeMs = b.oldestDueAt > 0 ? std::max<int64_t>(0, now - b.oldestDueAt) : 0;
  metrics_.update(pendingMetric_, {}, static_cast<double>(r.pending));
  metrics_.update(ageMetric_, {}, static_cast<double>(r.oldestAgeMs) / 1000.0);
  return r;
}

}  // namespace plexus::dispatch
