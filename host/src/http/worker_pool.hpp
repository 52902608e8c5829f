#pragma once
// Threads taking jobs from a bounded queue. A full queue refuses the job at once (the caller
// answers 503) instead of letting work pile up without bound. Threads are started on demand, up to
// the maximum, and then kept: an idle host does not hold the whole pool.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace plexus::http {

class WorkerPool {
 public:
  using Job = std::function<void()>;

  // maxThreads >= 1, queue >= 1. `name` names the threads (ps, top; at most 15 characters).
  WorkerPool(std::string name, int maxThreads, size_t queue);
  ~WorkerPool();  // stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False when the queue is full or the pool stopped: the job was not taken.
  bool trySubmit(Job job);
  // Runs the jobs already queued, then joins the threads. Idempotent.
  void stop();

  size_t queued() const;
  int busy() const;
  int threads() const;

 private:
  void run();
  void spawn();  // with mu_ held

  const std::string name_;
  const size_t maxThreads_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  int busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace plexus::http
