#pragma once
// The outbox relay: committed, due outbox rows go out in seq order, one relay per deployment at a
// time (replicas publishing in parallel would reorder a stream). With a transport they are
// published with confirms, then marked; without one (inproc) they run through the local Intake
// inside the relay's own transaction, so publishing and handling commit together. Woken right
// after a commit that wrote rows, with a polling fallback that also takes over rows a dead
// replica left. Between passes it keeps the outbox gauges current and runs the retention purge.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace plexus {
class Clock;
}
namespace plexus::store {
class Store;
}
namespace plexus::transport {
class Transport;
}

namespace plexus::dispatch {

class Intake;
class OutboxMonitor;
class Retention;

struct RelayOptions {
  int batch = 100;
  int pollIntervalMs = 1000;
  bool keepPublished = false;  // published rows go to plexus_published before they leave
};

class Relay {
 public:
  // `transport` null: the local (inproc) outlet through `intake`.
  Relay(store::Store& store, const Clock& clock, RelayOptions options,
        transport::Transport* transport, Intake& intake, OutboxMonitor& monitor,
        Retention& retention);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void start();
  // Stops the loop, then publishes what the last handlers committed (bounded; the rest waits in
  // the outbox for the next start or another replica).
  void stop();
  void wake();

  // One pass over up to a batch of due rows. True when a full batch went (more may wait);
  // `nextDueMs` = the earliest scheduled row still waiting (0 = none). Throws on failure.
  bool relayOnce(int64_t& nextDueMs);

 private:
  void loop();
  bool publishOnce(int64_t& nextDueMs);
  bool deliverOnce(int64_t& nextDueMs);

  store::Store& store_;
  const Clock& clock_;
  RelayOptions options_;
  transport::Transport* transport_;
  Intake& intake_;
  OutboxMonitor& monitor_;
  Retention& retention_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool wakeUp_ = false;
  std::thread thread_;
};

}  // namespace plexus::dispatch
