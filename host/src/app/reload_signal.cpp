#include "app/reload_signal.hpp"

#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>

#include <cerrno>
#include <ctime>

namespace plexus::app {
namespace {
sigset_t hangup() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void ReloadSignal::block() {
  const sigset_t set = hangup();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ReloadSignal::ReloadSignal(std::function<void()> onSignal) : onSignal_(std::move(onSignal)) {
  thread_ = std::thread([this] { loop(); });
}

ReloadSignal::~ReloadSignal() {
  stopping_ = true;
  if (!thread_.joinable()) return;
  pthread_kill(thread_.native_handle(), SIGHUP);  // wakes sigtimedwait now: shutdown must not wait
  thread_.join();
}

void ReloadSignal::loop() {
  const sigset_t set = hangup();
  const timespec tick{1, 0};  // a bounded wait; the destructor wakes it at once
  while (!stopping_) {
    if (sigtimedwait(&set, nullptr, &tick) != SIGHUP || stopping_) continue;  // tick, EINTR, stop
    log::write(log::Level::Info, "SIGHUP: reloading the plugins whose file or config changed");
    try {
      onSignal_();
    } catch (const std::exception& e) {
      log::write(log::Level::Error, "SIGHUP reload failed", nlohmann::json{{"error", e.what()}});
    }
  }
}

}  // namespace plexus::app
