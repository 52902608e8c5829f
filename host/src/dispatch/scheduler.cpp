#include "dispatch/scheduler.hpp"

#include "base/clock.hpp"
#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace plexus::dispatch {

using nlohmann::json;

std::vector<Job> selectRunnable(const std::vector<store::deliveries::Delivery>& head, int64_t nowMs,
                                const std::string& instance,
                                const std::set<store::deliveries::StreamHandler>& busy,
                                const std::set<int64_t>& queued, int64_t& nextDueMs) {
  std::vector<Job> out;
  std::set<store::deliveries::StreamHandler> seen;
  nextDueMs = 0;
  for (const auto& d : head) {
    const store::deliveries::StreamHandler key{d.message.stream, d.handler};
    if (!seen.insert(key).second) continue;  // only the oldest of a stream may run
    if (d.dueAt > nowMs) {
      if (nextDueMs == 0 || d.dueAt < nextDueMs) nextDueMs = d.dueAt;
      continue;  // a retry waiting for its backoff holds its stream
    }
    if (busy.count(key) > 0 || queued.count(d.seq) > 0) continue;
    const bool foreignClaim =
        !d.claimedBy.empty() && d.claimedBy != instance && d.claimedUntil > nowMs;
    if (foreignClaim) continue;  // another replica is handling this stream's head
    out.push_back(Job{d.seq, d.handler, d.message, d.firstFailedAt});
  }
  return out;
}

Scheduler::Scheduler(Executor& executor, store::Store& store, const Clock& clock,
                     SchedulerOptions options, std::function<void()> wakeRelay)
    : executor_(executor),
      store_(store),
      clock_(clock),
      options_(std::move(options)),
      wakeRelay_(std::move(wakeRelay)) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  scheduler_ = std::thread([this] { schedulerLoop(); });
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { workerLoop(); });
}

void Scheduler::stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.clear();  // not started: they stay in the table for the next start
  }
  schedulerCv_.notify_all();
  workerCv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();  // a running delivery finishes and commits
  }
}

void Scheduler::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wakeUp_ = true;
  }
  schedulerCv_.notify_one();
}

void Scheduler::schedulerLoop() {
  int failures = 0;
  while (!stopping_) {
    int64_t nextDue = 0;
    try {
      std::vector<store::deliveries::Delivery> head;
      {
        auto tx = store_.begin();
        head = store::deliveries::head(*tx, options_.scanRows);
        tx->commit();
      }
      failures = 0;
      std::lock_guard<std::mutex> lock(mu_);
      std::set<int64_t> queued;
      for (const Job& j : queue_) queued.insert(j.seq);
      for (Job& job :
           selectRunnable(head, clock_.nowMs(), options_.instance, busy_, queued, nextDue)) {
        busy_.insert({job.message.stream, job.handler});
        queue_.push_back(std::move(job));
      }
    } catch (const std::exception& e) {
      ++failures;
      log::write(log::Level::Warn, "delivery scheduler failed; retrying",
                 json{{"error", e.what()}});
    }
    workerCv_.notify_all();
    int64_t waitMs = options_.pollIntervalMs;
    if (failures > 0) waitMs = std::min<int64_t>(int64_t{100} << std::min(failures, 6), 5000);
    if (nextDue > 0) waitMs = std::max<int64_t>(1, std::min(waitMs, nextDue - clock_.nowMs()));
    std::unique_lock<std::mutex> lock(mu_);
    schedulerCv_.wait_for(lock, std::chrono::milliseconds(waitMs),
                          [&] { return wakeUp_ || stopping_.load(); });
    wakeUp_ = false;
  }
}

void Scheduler::workerLoop() {
  for (;;) {
    std::vector<Job> jobs;
    {
      std::unique_lock<std::mutex> lock(mu_);
      workerCv_.wait(lock, [&] { return stopping_.load() || !queue_.empty(); });
      if (stopping_ && queue_.empty()) return;
      // Take a share of what is queued (the other workers get the rest), up to runBatch.
      const size_t workers = static_cast<size_t>(options_.workers);
      const size_t share = std::max<size_t>(1, (queue_.size() + workers - 1) / workers);
      const size_t n = std::min({queue_.size(), share, static_cast<size_t>(options_.runBatch)});
      for (size_t i = 0; i < n; ++i) {
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    try {
      runAll(jobs);
    } catch (const std::exception& e) {
      // The store failed around the handlers: the delivery rows are still there; they run again.
      log::write(log::Level::Warn, "deliveries could not be recorded; they will run again",
                 json{{"deliveries", jobs.size()}, {"error", e.what()}});
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const Job& job : jobs) busy_.erase({job.message.stream, job.handler});
      wakeUp_ = true;
    }
    schedulerCv_.notify_one();
  }
}

// Group commit: the deliveries a worker took run in ONE transaction, each under its own savepoint.
// The claim is taken inside the same transaction: its row lock keeps another replica off the
// delivery until the commit, after which the row is gone (or, after a failure, carries its
// backoff). Rows are claimed in seq order, one lock order for every batch.
void Scheduler::runAll(std::vector<Job>& jobs) {
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.seq < b.seq; });
  plugin::UnitOfWork work(store_, clock_, wakeRelay_);
  Executor::Batch batch;
  batch.size = jobs.size();
  for (const Job& job : jobs) executor_.runOne(work, job, batch);
  executor_.commit(work, batch, false);
}

}  // namespace plexus::dispatch
