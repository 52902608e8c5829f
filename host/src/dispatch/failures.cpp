#include "dispatch/failures.hpp"

#include "base/clock.hpp"
#include "base/uuid.hpp"
#include "dispatch/metric_ids.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "store/dead_letters.hpp"
#include "store/deliveries.hpp"
#include "store/outbox.hpp"

#include <nlohmann/json.hpp>

namespace plexus::dispatch {

using nlohmann::json;

Failures::Failures(RetryPolicy policy, const Clock& clock, Metrics& metrics, bool brokerCopy)
    : policy_(std::move(policy)), clock_(clock), metrics_(metrics), brokerCopy_(brokerCopy) {
  const std::vector<std::string> byHandler{"type", "handler"};
  retriedMetric_ = defineMetric(metrics_, Metrics::Kind::Counter, "plexus_messages_retried_total",
                                "Deliveries scheduled for another attempt.", byHandler);
  deadMetric_ =
      defineMetric(metrics_, Metrics::Kind::Counter, "plexus_messages_dead_lettered_total",
                   "Messages moved to the dead letters.", byHandler);
}

int64_t Failures::record(store::Transaction& tx, const Job& job, plexus_status status,
                         const std::string& reason) {
  const int64_t now = clock_.nowMs();
  const int64_t attempt = job.message.attempt;
  const int64_t delay = policy_.nextDelayMs(status, attempt);
  if (delay < 0) {
    deadLetter(tx, job,
               status == PLEXUS_REJECT
                   ? reason
                   : "gave up after " + std::to_string(attempt) + " attempts: " + reason);
    if (job.stored()) store::deliveries::remove(tx, job.seq);
    return -1;
  }
  if (job.stored()) {
    store::deliveries::reschedule(tx, job.seq, now + delay, reason, now);
  } else {  // the first attempt ran straight from the transport: its retry is stored now
    store::deliveries::addRetry(tx, job.message, job.handler, attempt + 1, now + delay, reason,
                                now);
  }
  return delay;
}

void Failures::recordAlone(store::Store& store, const Job& job, plexus_status status,
                           const std::string& reason) {
  auto tx = store.begin();
  const int64_t delay = record(*tx, job, status, reason);
  tx->commit();
  report(job, reason, delay);
}

void Failures::report(const Job& job, const std::string& reason, int64_t delay) {
  const std::string& type = job.message.type;
  if (delay < 0) {
    metrics_.update(deadMetric_, {type, job.handler}, 1);
    log::write(log::Level::Warn, "message dead-lettered",
               json{{"message_id", job.message.id},
                    {"handler", job.handler},
                    {"type", type},
                    {"attempts", job.message.attempt},
                    {"reason", reason}});
    return;
  }
  metrics_.update(retriedMetric_, {type, job.handler}, 1);
  log::write(log::Level::Info, "message will be retried",
             json{{"message_id", job.message.id},
                  {"handler", job.handler},
                  {"attempt", job.message.attempt},
                  {"retry_in_ms", delay},
                  {"reason", reason}});
}

void Failures::deadLetter(store::Transaction& tx, const Job& job, const std::string& reason) {
  const int64_t now = clock_.nowMs();
  store::dead_letters::DeadLetter d;
  d.id = newUuidV7();
  d.handler = job.handler;
  d.message = job.message;
  d.reason = reason;
  d.attempts = job.message.attempt;
  d.firstFailedAt = job.firstFailedAt > 0 ? job.firstFailedAt : now;
  d.lastFailedAt = now;
  store::dead_letters::add(tx, d);
  if (brokerCopy_) store::outbox::appendDeadLetterCopy(tx, job.message, now);
}

}  // namespace plexus::dispatch
