#pragma once
// Runs jobs (one message for one local handler) inside one shared transaction: the inbox check,
// the handler, its outgoing messages and inbox row, and for a stored delivery its claim and
// removal. A failing handler undoes only its own effects (a savepoint) and its retry or dead
// letter is written in the same transaction. After the commit the batch is reported: spans,
// metrics, after-commit callbacks, failure log lines.

#include "dispatch/job.hpp"
#include "observability/handler_metrics.hpp"
#include "observability/trace.hpp"
#include "plugin/unit_of_work.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace plexus {
class Clock;
class Metrics;
}  // namespace plexus
namespace plexus::plugin {
class Runtime;
}

namespace plexus::dispatch {

class Failures;
class HandlerTable;

struct ExecutorOptions {
  std::string instance;  // this host's id in delivery claims
  int leaseMs = 30000;   // a claim is taken over when its instance went silent this long
  // After a commit that stored retries or dead-letter copies: wakes the scheduler and the relay.
  std::function<void()> wake;
};

class Executor {
 public:
  // What a batch did, reported once the commit is known (finish()).
  struct Batch {
    struct Done {
      Job job;
      bool duplicate = false;
      trace::Span span;     // the handler span, ended with the outcome after the commit
      trace::Span dbSpan;   // its share of the group transaction, ended at the commit
      std::string version;  // of the plugin that ran it
      // A duplicate that is the published copy of an event an inline perspective of this service
      // projected when it was emitted (plugin/inline_projection.hpp): not a redelivery.
      bool projectedInline = false;
    };
    struct Failed {
      Job job;
      plexus_status status;
      std::string reason;
      int64_t delay = 0;  // recorded outcome (-1 dead letter); unused while not recorded
    };
    std::vector<Done> done;
    std::vector<Failed> unrecorded;  // stored jobs whose failure is written after the commit
    std::vector<Failed> recorded;    // failures written in the batch's transaction
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    size_t size = 0;  // jobs of the batch, for db.group_commit.size
  };

  Executor(plugin::Runtime& runtime, const HandlerTable& handlers, Failures& failures,
           Metrics& metrics, const Clock& clock, ExecutorOptions options);

  // Runs `job` under its own savepoint. True when it failed and will be retried: later messages
  // of its stream must wait behind it.
  bool runOne(plugin::UnitOfWork& work, const Job& job, Batch& batch);

  // The common case first: runs every job without savepoints, the host's own writes deferred to
  // the next round trip. Returns false at the first failure of any kind, after rolling the
  // attempt back in `work`'s transaction to `savepoint` (the caller reruns the batch with
  // runOne); nothing of it is kept or reported then.
  bool runOptimistic(plugin::UnitOfWork& work, std::vector<Job>& jobs,
                     const std::vector<bool>& handledBefore, Batch& batch);

  // Commits `work` and reports the batch. A failed commit: the jobs' failures are recorded in a
  // transaction of their own; with `rethrow` (jobs straight from a transport, which the caller
  // stores instead) the error is rethrown after the spans and callbacks are ended.
  void commit(plugin::UnitOfWork& work, Batch& batch, bool rethrow);
  // Reports a batch whose transaction someone else committed (or failed to commit).
  void finish(Batch& batch, bool committed, const std::string& commitError = "");

  const HandlerTable& handlers() const { return handlers_; }
  Failures& failures() { return failures_; }

 private:
  bool runHandler(plugin::UnitOfWork& work, const Job& job, plugin::Component& component,
                  Batch& batch);
  void abandon(Batch& batch, const std::string& why);
  // The outcome of a job whose handler already handled the message (the inbox says so).
  Batch::Done skipped(const Job& job, plugin::Component& component) const;

  plugin::Runtime& runtime_;
  const HandlerTable& handlers_;
  Failures& failures_;
  Metrics& metrics_;
  const Clock& clock_;
  ExecutorOptions options_;
  HandlerMetrics metric_;
  int64_t transactionsMetric_;  // plexus_handler_transactions_total
};

}  // namespace plexus::dispatch
