#include "app/migration_watch.hpp"

#include "observability/log.hpp"

#include <nlohmann/json.hpp>

namespace plexus::app {

MigrationWatch::MigrationWatch(store::Store& store, std::vector<store::Migration> migrations,
                               std::function<void()> onReady)
    : store_(store), migrations_(std::move(migrations)), onReady_(std::move(onReady)) {}

MigrationWatch::~MigrationWatch() { stop(); }

void MigrationWatch::start() {
  thread_ = std::thread([this] { loop(); });
}

void MigrationWatch::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MigrationWatch::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    bool ready = false;
    try {
      ready = store::pendingMigrations(store_, migrations_).empty();
    } catch (const std::exception&) {
      ready = false;  // the store is still unreachable: look again
    }
    lock.lock();
    if (ready && !stopping_) {
      log::write(log::Level::Info, "migrations present: ready");
      onReady_();
      return;
    }
    cv_.wait_for(lock, std::chrono::seconds(2), [&] { return stopping_; });
  }
}

}  // namespace plexus::app
