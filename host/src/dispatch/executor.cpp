#include "dispatch/executor.hpp"

#include "base/clock.hpp"
#include "base/fault.hpp"
#include "dispatch/failures.hpp"
#include "dispatch/handler_table.hpp"
#include "dispatch/metric_ids.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "store/deliveries.hpp"
#include "store/inbox.hpp"

#include <algorithm>

namespace plexus::dispatch {

Executor::Executor(plugin::Runtime& runtime, const HandlerTable& handlers, Failures& failures,
                   Metrics& metrics, const Clock& clock, ExecutorOptions options)
    : runtime_(runtime),
      handlers_(handlers),
      failures_(failures),
      metrics_(metrics),
      clock_(clock),
      options_(std::move(options)),
      metric_(HandlerMetrics::define(metrics)),
      transactionsMetric_(defineMetric(
          metrics, Metrics::Kind::Counter, "plexus_handler_transactions_total",
          "Committed transactions that ran handlers (a consumed batch is one, however many "
          "messages it held).",
          {})) {}

Executor::Batch::Done Executor::skipped(const Job& job, plugin::Component& component) const {
  trace::Span span = plugin::startHandlerSpan(component, job.message);
  const bool inlined = plugin::current(component).projectsInline && job.message.kind == "event" &&
                       job.message.source == runtime_.service();
  span.setAttribute("plexus.outcome", std::string(inlined ? "projected inline" : "duplicate"));
  Batch::Done done{job, true, std::move(span), {}, {}};
  done.projectedInline = inlined;
  return done;
}

bool Executor::runOne(plugin::UnitOfWork& work, const Job& job, Batch& batch) {
  store::Transaction& tx = work.tx();
  const int64_t now = clock_.nowMs();
  work.beginPart();
  plugin::Part part;
  try {
    if (job.stored() && !store::deliveries::claim(tx, job.seq, job.message.attempt,
                                                  options_.instance, now, now + options_.leaseMs)) {
      work.discard(std::move(part));  // handled meanwhile, or held by another replica
      return false;
    }
    plugin::Component* component = handlers_.component(job.handler);
    if (component == nullptr) {
      const std::string reason = "handler " + job.handler + " is not loaded in this host";
      failures_.deadLetter(tx, job, reason);
      if (job.stored()) store::deliveries::remove(tx, job.seq);
      work.keep(std::move(part));
      batch.recorded.push_back(Batch::Failed{job, PLEXUS_REJECT, reason, -1});
      return false;
    }
    if (store::inbox::handled(tx, job.message.id, job.handler)) {
      if (job.stored()) store::deliveries::remove(tx, job.seq);
      work.keep(std::move(part));
      batch.done.push_back(skipped(job, *component));
      return false;
    }
    return runHandler(work, job, *component, batch);
  } catch (const store::SqlError& e) {
    // A statement of this job failed (a conflict, a constraint): undo it alone. When the
    // connection itself is gone, rollbackTo throws and the whole batch runs again later.
    work.discard(std::move(part));
    Batch::Failed f{job, e.transient() ? PLEXUS_RETRY : PLEXUS_REJECT,
                    std::string("commit failed: ") + e.what()};
    if (job.stored()) {
      batch.unrecorded.push_back(f);  // its row holds the stream meanwhile
      return false;
    }
    // Straight from the transport: recorded now, so that a later message of the same stream in
    // this batch sees the stored retry and waits behind it.
    f.delay = failures_.record(tx, job, f.status, f.reason);
    batch.recorded.push_back(f);
    return f.delay >= 0;
  }
}

bool Executor::runHandler(plugin::UnitOfWork& work, const Job& job, plugin::Component& component,
                          Batch& batch) {
  plugin::Part part;
  trace::Span span = plugin::startHandlerSpan(component, job.message);
  trace::Span dbSpan;
  plugin::Delivery d;
  {
    trace::Scope spanScope(span);
    dbSpan = plugin::startTransactionSpan(*runtime_.store());
    dbSpan.setAttribute("db.group_commit.size", static_cast<int64_t>(batch.size));
    // Not made current: what the handler sends and logs continues from the handler span.
    d = runtime_.deliver(component, job.message, &work.tx(), part);
  }
  if (d.status == PLEXUS_OK) {
    if (job.stored()) store::deliveries::remove(work.tx(), job.seq);
    work.keep(std::move(part), &job.message.id, &job.handler);
    batch.done.push_back(Batch::Done{job, false, std::move(span), std::move(dbSpan), d.version});
    return false;
  }
  plugin::setOutcome(span, d.status, d.reason);
  dbSpan.setAttribute("db.rolled_back", true);
  dbSpan.end();
  work.discard(std::move(part));  // everything the handler did
  metrics_.update(metric_.failed, {job.message.type, job.handler, d.version}, 1);
  Batch::Failed f{job, d.status, d.reason};
  f.delay = failures_.record(work.tx(), job, f.status, f.reason);
  batch.recorded.push_back(f);
  return f.delay >= 0;
}

void Executor::abandon(Batch& batch, const std::string& why) {
  for (auto& x : batch.done) {
    if (x.duplicate) continue;
    x.dbSpan.setAttribute("db.rolled_back", true);
    x.dbSpan.end();
    x.span.setAttribute("plexus.outcome", std::string("rerun: ") + why);
  }
  batch.done.clear();
}

bool Executor::runOptimistic(plugin::UnitOfWork& work, std::vector<Job>& jobs,
                             const std::vector<bool>& handledBefore, Batch& batch) {
  const plugin::UnitOfWork::Checkpoint checkpoint = work.checkpoint();
  try {
    for (size_t i = 0; i < jobs.size(); ++i) {
      const Job& job = jobs[i];
      plugin::Component* component = handlers_.component(job.handler);
      if (component == nullptr) {  // the careful way dead-letters it
        abandon(batch, "a handler is not loaded");
        work.rollbackTo(checkpoint);
        return false;
      }
      if (handledBefore[i]) {
        batch.done.push_back(skipped(job, *component));
        continue;
      }
      plugin::Part part;
      trace::Span span = plugin::startHandlerSpan(*component, job.message);
      trace::Span dbSpan;
      plugin::Delivery d;
      {
        trace::Scope spanScope(span);
        dbSpan = plugin::startTransactionSpan(*runtime_.store());
        dbSpan.setAttribute("db.group_commit.size", static_cast<int64_t>(batch.size));
        d = runtime_.deliver(*component, job.message, &work.tx(), part);
      }
      if (d.status != PLEXUS_OK) {
        dbSpan.setAttribute("db.rolled_back", true);
        span.setAttribute("plexus.outcome", std::string("rerun: handler failed"));
        plugin::runAfterCommit(part.afterCommit, false);
        abandon(batch, "a handler of the batch failed");
        work.rollbackTo(checkpoint);
        return false;
      }
      work.keep(std::move(part), &job.message.id, &job.handler, true);
      batch.done.push_back(Batch::Done{job, false, std::move(span), std::move(dbSpan), d.version});
    }
    work.releaseCheckpoint();
    return true;
  } catch (const store::SqlError& e) {
    abandon(batch, e.what());
    work.rollbackTo(checkpoint);  // throws when the connection is gone: the caller's failure
    return false;
  }
}

void Executor::commit(plugin::UnitOfWork& work, Batch& batch, bool rethrow) {
  try {
    fault::reach(fault::Point::BeforeCommit);
    work.commit();
  } catch (const store::SqlError& e) {
    const plexus_status status = e.transient() ? PLEXUS_RETRY : PLEXUS_REJECT;
    for (auto& x : batch.done) {
      if (x.duplicate) continue;
      x.dbSpan.setStatus(trace::StatusCode::Error, e.what());
      x.dbSpan.setAttribute("db.rolled_back", true);
      x.dbSpan.end();
      plugin::setOutcome(x.span, status, e.what());
      batch.unrecorded.push_back(
          Batch::Failed{x.job, status, std::string("commit failed: ") + e.what()});
    }
    if (rethrow) throw;  // nothing of it was committed: the caller stores the messages instead
    // The failures written in the transaction were lost with it: record them all again.
    for (auto& f : batch.recorded) batch.unrecorded.push_back(f);
    for (const auto& f : batch.unrecorded) {
      if (f.job.stored()) failures_.recordAlone(*runtime_.store(), f.job, f.status, f.reason);
    }
    return;
  }
  finish(batch, true);
}

void Executor::finish(Batch& batch, bool committed, const std::string& commitError) {
  if (!committed) {
    abandon(batch, "commit failed: " + commitError);
    return;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - batch.started).count() /
      static_cast<double>(std::max<size_t>(1, batch.size));
  bool ran = false;
  for (auto& x : batch.done) {
    if (x.duplicate) {
      if (!x.projectedInline) metrics_.update(metric_.duplicates, {x.job.handler}, 1);
      continue;
    }
    ran = true;
    x.dbSpan.end();
    plugin::setOutcome(x.span, PLEXUS_OK, "");
    metrics_.update(metric_.handled, {x.job.message.type, x.job.handler, x.version}, 1);
    metrics_.update(metric_.duration, {x.job.handler}, seconds);
  }
  if (ran) metrics_.update(transactionsMetric_, {}, 1);
  for (const auto& f : batch.recorded) failures_.report(f.job, f.reason, f.delay);
  for (const auto& f : batch.unrecorded) {
    failures_.recordAlone(*runtime_.store(), f.job, f.status, f.reason);
  }
  if ((!batch.recorded.empty() || !batch.unrecorded.empty()) && options_.wake) options_.wake();
}

}  // namespace plexus::dispatch
