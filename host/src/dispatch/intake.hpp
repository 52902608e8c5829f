#pragma once
// Messages that arrive (from the broker, or from the local relay) run at once in ONE transaction:
// each (message, handler) whose stream has no stored delivery waiting runs under its own
// savepoint (inbox, handler, outbox: one commit, no scheduler hop between broker and handler);
// the others, and every later message of a stream that fails here, are stored as deliveries for
// the scheduler, in order behind what waits. The common case first runs optimistically (no
// savepoints, the host's writes deferred); any failure reruns the batch the careful way.

#include "dispatch/executor.hpp"
#include "transport_api/transport.hpp"

#include <functional>
#include <memory>
#include <vector>

namespace plexus {
class Clock;
}
namespace plexus::store {
class Store;
class Transaction;
}  // namespace plexus::store

namespace plexus::dispatch {

class Intake final : public transport::Inbound {
 public:
  // `wakeScheduler` after deliveries were stored; `wakeRelay` after messages were written.
  Intake(Executor& executor, store::Store& store, const Clock& clock,
         std::function<void()> wakeScheduler, std::function<void()> wakeRelay);

  // From a transport: committed before it returns (transport::Inbound).
  std::vector<bool> accept(std::vector<transport::Received>& batch) override;

  // What arrived, sorted: jobs to run, messages to dead-letter.
  struct Prepared {
    std::vector<bool> ok;
    std::vector<Job> jobs;  // one per (message, local handler), in arrival order
    // Dead letters: unusable, or a command nobody here handles.
    std::vector<std::pair<Job, std::string>> rejectReasons;
    std::vector<trace::Span> spans;  // consume spans, ended once the batch is committed
    bool stored = false;             // deliveries were stored: the scheduler has work
  };

  // From the local relay: runs `messages` inside the relay's transaction `tx`; the relay commits
  // and then calls finish() with the outcome. Throws store::SqlError when `tx` broke.
  struct Local {
    Local(store::Transaction& tx, const Clock& clock, std::function<void()> wrote)
        : work(tx, clock, std::move(wrote)) {}
    plugin::UnitOfWork work;
    Executor::Batch batch;
    Prepared prepared;
  };
  std::unique_ptr<Local> runIn(store::Transaction& tx, std::vector<Message> messages);
  void finish(Local& run, bool committed);

 private:
  Prepared prepare(std::vector<transport::Received>& batch);
  void run(plugin::UnitOfWork& work, Prepared& p, Executor::Batch& batch);
  void storeAll(Prepared& p);

  Executor& executor_;
  store::Store& store_;
  const Clock& clock_;
  std::function<void()> wakeScheduler_;
  std::function<void()> wakeRelay_;
};

}  // namespace plexus::dispatch
