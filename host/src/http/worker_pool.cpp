#include "http/worker_pool.hpp"

#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <pthread.h>

namespace plexus::http {

WorkerPool::WorkerPool(std::string name, int maxThreads, size_t queue)
    : name_(std::move(name)), maxThreads_(static_cast<size_t>(maxThreads)), capacity_(queue) {
  std::lock_guard<std::mutex> lock(mu_);
  spawn();
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::spawn() {
  threads_.emplace_back([this] { run(); });
  pthread_setname_np(threads_.back().native_handle(), name_.substr(0, 15).c_str());
}

bool WorkerPool::trySubmit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || jobs_.size() >= capacity_) return false;
    jobs_.push_back(std::move(job));
    // Every thread is busy with an earlier job: one more, while the maximum allows.
    if (static_cast<size_t>(busy_) + jobs_.size() > threads_.size() &&
        threads_.size() < maxThreads_)
      spawn();
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

int WorkerPool::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_;
}

int WorkerPool::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(threads_.size());
}

void WorkerPool::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left to run
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    ++busy_;
    lock.unlock();
    try {
      job();
    } catch (const std::exception& e) {  // jobs catch their own; this keeps the thread alive
      log::write(log::Level::Error, "worker job failed", nlohmann::json{{"error", e.what()}});
    } catch (...) {
      log::write(log::Level::Error, "worker job failed");
    }
    job = nullptr;  // whatever the job holds goes before the next wait
    lock.lock();
    --busy_;
  }
}

}  // namespace plexus::http
