#pragma once
// SIGHUP reloads every plugin whose file or config entry changed (plugin/reload.hpp), like a
// web server re-reading its configuration. Its default action would end the process, so the
// signal is blocked in every thread (block() runs before the first thread starts; threads inherit
// the mask) and taken by this watcher's thread alone.

#include <atomic>
#include <functional>
#include <thread>

namespace plexus::app {

class ReloadSignal {
 public:
  // In the main thread, before any other thread exists.
  static void block();

  explicit ReloadSignal(std::function<void()> onSignal);
  ~ReloadSignal();
  ReloadSignal(const ReloadSignal&) = delete;
  ReloadSignal& operator=(const ReloadSignal&) = delete;

 private:
  void loop();
  std::function<void()> onSignal_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace plexus::app
