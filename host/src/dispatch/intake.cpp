#include "dispatch/intake.hpp"

#include "base/clock.hpp"
#include "dispatch/failures.hpp"
#include "dispatch/handler_table.hpp"
#include "observability/log.hpp"
#include "store/deliveries.hpp"

#include <nlohmann/json.hpp>

#include <set>

namespace plexus::dispatch {
namespace {

using nlohmann::json;
using StreamHandler = store::deliveries::StreamHandler;

constexpr int kWaitingScan = 1000;  // stored deliveries read at once per batch

trace::Span consumeSpan(const Message& m, size_t handlers) {
  trace::Span span =
      trace::startSpan("consume " + m.type, trace::SpanKind::Consumer, m.traceparent);
  if (span.recording()) {
    span.setAttribute("messaging.system", std::string("rabbitmq"));
    span.setAttribute("messaging.operation", std::string("receive"));
    span.setAttribute("messaging.message.id", m.id);
    span.setAttribute("messaging.message.type", m.type);
    span.setAttribute("plexus.handlers", static_cast<int64_t>(handlers));
  }
  return span;
}

}  // namespace

Intake::Intake(Executor& executor, store::Store& store, const Clock& clock,
               std::function<void()> wakeScheduler, std::function<void()> wakeRelay)
    : executor_(executor),
      store_(store),
      clock_(clock),
      wakeScheduler_(std::move(wakeScheduler)),
      wakeRelay_(std::move(wakeRelay)) {}

Intake::Prepared Intake::prepare(std::vector<transport::Received>& batch) {
  Prepared p;
  p.ok.assign(batch.size(), true);
  for (size_t i = 0; i < batch.size(); ++i) {
    Message& m = batch[i].message;
    if (m.kind.empty()) m.kind = "event";
    if (!batch[i].error.empty()) {
      p.ok[i] = false;  // the transport rejects it to the broker's dead-letter queue
      p.rejectReasons.push_back({Job{0, "-", m, 0}, "unusable message: " + batch[i].error});
      continue;
    }
    const auto& handlers = executor_.handlers().handlersFor(m.kind, m.type);
    trace::Span span = consumeSpan(m, handlers.size());
    if (!span.traceparent().empty()) m.traceparent = span.traceparent();
    p.spans.push_back(std::move(span));
    if (handlers.empty() && m.kind == "command") {
      p.rejectReasons.push_back(
          {Job{0, "-", m, 0}, "no handler for command " + m.type + " in this host"});
    }
    for (const auto& h : handlers) p.jobs.push_back(Job{0, h, m, 0});
  }
  return p;
}

void Intake::run(plugin::UnitOfWork& work, Prepared& p, Executor::Batch& batch) {
  store::Transaction& tx = work.tx();
  for (const auto& [job, reason] : p.rejectReasons) {
    executor_.failures().deadLetter(tx, job, reason);
    batch.recorded.push_back(Executor::Batch::Failed{job, PLEXUS_REJECT, reason, -1});
  }
  batch.size = p.jobs.size();
  if (p.jobs.empty()) return;
  std::vector<std::string> ids;
  for (const Job& j : p.jobs) ids.push_back(j.message.id);
  const auto snap = store::deliveries::snapshot(tx, kWaitingScan, ids);
  const int64_t now = clock_.nowMs();
  if (!snap.overflow) {  // else a backlog: the careful way, per stream
    std::vector<Job> runnable;
    std::vector<bool> handledBefore;
    for (const Job& j : p.jobs) {
      if (snap.waiting.count({j.message.stream, j.handler}) > 0) {
        store::deliveries::add(tx, j.message, j.handler, now, true);  // behind what waits
        p.stored = true;
        continue;
      }
      runnable.push_back(j);
      handledBefore.push_back(snap.handled.count({j.message.id, j.handler}) > 0);
    }
    if (executor_.runOptimistic(work, runnable, handledBefore, batch)) return;
  }
  std::set<StreamHandler> held = snap.waiting;
  for (const Job& j : p.jobs) {
    const StreamHandler key{j.message.stream, j.handler};
    if (snap.overflow && held.count(key) == 0 &&
        store::deliveries::waiting(tx, j.message.stream, j.handler)) {
      held.insert(key);  // a stored delivery of this stream comes first
    }
    if (held.count(key) > 0) {
      store::deliveries::add(tx, j.message, j.handler, now);
      p.stored = true;
      continue;
    }
    if (executor_.runOne(work, j, batch)) held.insert(key);  // fails now: its stream waits
  }
}

// The batch did not commit (or the store failed around it): every delivery is stored in a fresh
// transaction instead, for the scheduler. If that fails too, the caller requeues.
void Intake::storeAll(Prepared& p) {
  auto tx = store_.begin();
  const int64_t now = clock_.nowMs();
  for (const auto& [job, reason] : p.rejectReasons)
    executor_.failures().deadLetter(*tx, job, reason);
  for (const Job& j : p.jobs) store::deliveries::add(*tx, j.message, j.handler, now);
  tx->commit();
  p.stored = true;
}

std::vector<bool> Intake::accept(std::vector<transport::Received>& received) {
  Prepared p = prepare(received);
  if (p.jobs.empty() && p.rejectReasons.empty()) return p.ok;
  try {
    plugin::UnitOfWork work(store_, clock_, wakeRelay_);
    Executor::Batch batch;
    run(work, p, batch);
    executor_.commit(work, batch, true);
  } catch (const store::SqlError& e) {
    log::write(log::Level::Warn, "consumed batch could not run directly; storing it",
               json{{"messages", received.size()}, {"error", e.what()}});
    storeAll(p);  // throws when the store is down: the transport requeues the batch
  }
  if (p.stored && wakeScheduler_) wakeScheduler_();
  return p.ok;
}

std::unique_ptr<Intake::Local> Intake::runIn(store::Transaction& tx,
                                             std::vector<Message> messages) {
  auto local = std::make_unique<Local>(tx, clock_, wakeRelay_);
  std::vector<transport::Received> received;
  received.reserve(messages.size());
  for (auto& m : messages) received.push_back(transport::Received{std::move(m), {}});
  local->prepared = prepare(received);
  run(local->work, local->prepared, local->batch);
  local->work.flush();  // the relay commits next
  return local;
}

void Intake::finish(Local& local, bool committed) {
  local.work.finish(committed);
  executor_.finish(local.batch, committed, committed ? "" : "the relay's commit failed");
  if (committed && local.prepared.stored && wakeScheduler_) wakeScheduler_();
}

}  // namespace plexus::dispatch
