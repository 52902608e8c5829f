#pragma once
// Stored deliveries (retries, and messages that wait behind one) run here: a scheduler thread
// picks the oldest delivery of each (stream, handler) that is due and not claimed by another live
// replica, and a pool of workers runs them, several per transaction (group commit).

#include "dispatch/executor.hpp"
#include "store/deliveries.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace plexus {
class Clock;
}
namespace plexus::store {
class Store;
}

namespace plexus::dispatch {

struct SchedulerOptions {
  int workers = 2;
  int runBatch = 16;   // deliveries one worker runs in one transaction
  int scanRows = 500;  // stored deliveries read per scheduling round
  int pollIntervalMs = 1000;
  std::string instance;
};

// The deliveries of `head` (oldest first) that may run now: the oldest of each (stream,
// handler), when due, not running or queued here, and not claimed by another live instance.
// `nextDueMs` gets the earliest due time still in the future (0 when none).
std::vector<Job> selectRunnable(const std::vector<store::deliveries::Delivery>& head, int64_t nowMs,
                                const std::string& instance,
                                const std::set<store::deliveries::StreamHandler>& busy,
                                const std::set<int64_t>& queued, int64_t& nextDueMs);

class Scheduler {
 public:
  Scheduler(Executor& executor, store::Store& store, const Clock& clock, SchedulerOptions options,
            std::function<void()> wakeRelay);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  // Stops taking deliveries; waits for the running ones (they finish and commit).
  void stop();
  void wake();

 private:
  void schedulerLoop();
  void workerLoop();
  void runAll(std::vector<Job>& jobs);

  Executor& executor_;
  store::Store& store_;
  const Clock& clock_;
  SchedulerOptions options_;
  std::function<void()> wakeRelay_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable schedulerCv_;
  std::condition_variable workerCv_;
  bool wakeUp_ = false;
  std::deque<Job> queue_;
  std::set<store::deliveries::StreamHandler> busy_;  // (stream, handler) being handled
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace plexus::dispatch
