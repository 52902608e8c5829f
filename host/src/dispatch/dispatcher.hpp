#pragma once
// The durable runtime of one host (DESIGN.md §3), made of parts named for their jobs:
//   HandlerTable     which component handles which message
//   Intake           arriving messages run at once in one transaction, or are stored
//   Executor         runs handlers in a shared transaction (savepoints, inbox, outbox)
//   Scheduler        stored deliveries (retries, and what waits behind them) on worker threads
//   Relay            committed outbox rows to the transport, or to the Intake without one
//   Failures         retry with backoff or dead-letter (RetryPolicy decides which)
//   DeadLetterAdmin  the admin API's dead letters
//   OutboxMonitor    outbox backlog for readiness and gauges; Retention purges old rows
// A transport (transport_api/transport.hpp) is handed in, never reached back into.

#include "dispatch/dead_letter_admin.hpp"
#include "dispatch/executor.hpp"
#include "dispatch/failures.hpp"
#include "dispatch/handler_table.hpp"
#include "dispatch/intake.hpp"
#include "dispatch/outbox_monitor.hpp"
#include "dispatch/relay.hpp"
#include "dispatch/retention.hpp"
#include "dispatch/scheduler.hpp"

#include <memory>
#include <string>

namespace plexus {
class Clock;
class Metrics;
}  // namespace plexus
namespace plexus::transport {
class Transport;
}

namespace plexus::dispatch {

struct Options {
  int workers = 2;
  int maxAttempts = 5;
  int retryInitialMs = 200;
  int retryMaxMs = 60000;
  int pollIntervalMs = 1000;
  int batch = 100;    // outbox rows per relay pass
  int runBatch = 16;  // stored deliveries one worker runs in one transaction
  int64_t retentionMs = 7ll * 24 * 3600 * 1000;  // processed inbox rows
  int64_t keepPublishedMs = 0;  // published messages kept for inspection (0 = not kept)
  int leaseMs = 30000;
  std::string instance;  // this host's instance id (delivery claims)
};

class Dispatcher {
 public:
  // `transport` null: in-process (the relay hands rows to the local handlers).
  Dispatcher(plugin::Runtime& runtime, store::Store& store, Metrics& metrics, Options options,
             transport::Transport* transport, const Clock& clock);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Relay, scheduler, and the transport's consumer.
  void start();
  // The consumer first (unacked messages go back), then the scheduler and the relay (running
  // handlers finish and commit; the relay flushes), then the transport's publisher.
  void stop();
  // After a commit that wrote outbox rows.
  void wake() { relay_.wake(); }

  const HandlerTable& handlers() const { return handlers_; }
  DeadLetterAdmin& deadLetters() { return deadLetters_; }
  OutboxMonitor& outbox() { return monitor_; }
  Retention& retention() { return retention_; }
  Relay& relay() { return relay_; }
  // Where a transport hands consumed messages (tests hand them directly).
  transport::Inbound& inbound() { return intake_; }

 private:
  transport::Transport* transport_;
  HandlerTable handlers_;
  Failures failures_;
  Executor executor_;
  Intake intake_;
  Scheduler scheduler_;
  OutboxMonitor monitor_;
  Retention retention_;
  Relay relay_;
  DeadLetterAdmin deadLetters_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace plexus::dispatch
