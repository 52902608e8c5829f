#pragma once
// An unmigrated PostgreSQL host serves (not ready) and waits for `migrate` (a Job, another
// replica): it looks every two seconds and calls onReady once nothing is pending.

#include "store/migrations.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace plexus::app {

class MigrationWatch {
 public:
  MigrationWatch(store::Store& store, std::vector<store::Migration> migrations,
                 std::function<void()> onReady);
  ~MigrationWatch();
  MigrationWatch(const MigrationWatch&) = delete;
  MigrationWatch& operator=(const MigrationWatch&) = delete;

  void start();
  void stop();

 private:
  void loop();

  store::Store& store_;
  std::vector<store::Migration> migrations_;
  std::function<void()> onReady_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace plexus::app
