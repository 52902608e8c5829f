#include "rebuild/service.hpp"

#include "base/clock.hpp"
#include "observability/log.hpp"
#include "plugin/runtime.hpp"
#include "rebuild/rebuild.hpp"
#include "rebuild/replay_responder.hpp"
#include "rebuild/shadow.hpp"

#include <algorithm>

namespace plexus::rebuild {
namespace {

using nlohmann::json;

// A record not updated for this long belongs to a rebuild whose process died.
constexpr int64_t kAbandonedMs = 120000;

}  // namespace

Service::Service(const config::Config& config, store::Store& live, plugin::Runtime& runtime,
                 Metrics& metrics, const Clock& clock)
    : config_(config), live_(live), runtime_(runtime), metrics_(metrics), clock_(clock) {}

Service::~Service() { stop(); }

void Service::start() {
  if (config_.transport.kind == "rabbitmq") {
    responder_ = std::make_unique<ReplayResponder>(config_, live_, clock_);
    responder_->start();
  }
  janitor_ = std::thread([this] { janitorLoop(); });
}

void Service::stop() {
  std::map<std::string, std::shared_ptr<Running>> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    running = running_;
  }
  cv_.notify_all();
  for (auto& [id, r] : running) r->rebuild->cancel();
  for (auto& [id, r] : running) {
    if (r->thread.joinable()) r->thread.join();
  }
  if (janitor_.joinable()) janitor_.join();
  if (responder_) responder_->stop();
}

Record Service::rebuild(const std::string& component, const std::vector<std::string>& tables) {
  reap();
  Target target;
  try {
    // The plugin that serves now (a reload may have replaced it), with its entry in the config
    // as it is now (a reload reads it again too).
    config::Config now = config_;
    try {
      now = config::load(config_.file);
    } catch (const config::ConfigError&) {
      // the config the host started with
    }
    target = findTarget(now, runtime_.plugins(), component);
  } catch (const RebuildError& e) {
    throw ServiceError(component.find('/') == std::string::npos ? 400 : 404, e.what());
  }
  target.tables = tables;
  auto running = std::make_shared<Running>();
  running->rebuild = std::make_unique<Rebuild>(config_, live_, metrics_, clock_, std::move(target),
                                               runtime_.instance(), true);
  try {
    running->rebuild->begin();
  } catch (const RebuildError& e) {
    throw ServiceError(409, e.what());
  }
  const Record first = running->rebuild->snapshot();
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) throw ServiceError(503, "the host is shutting down");
  running_[first.id] = running;
  running->thread = std::thread([running] {
    try {
      running->rebuild->run();
    } catch (const std::exception&) {
      // recorded and logged by the rebuild
    }
    running->done = true;
  });
  return first;
}

bool Service::cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end() || it->second->done) return false;
  it->second->rebuild->cancel();
  return true;
}

std::vector<Record> Service::list(int limit) {
  auto tx = live_.begin();
  auto out = records::list(*tx, limit);
  tx->commit();
  return out;
}

std::optional<Record> Service::get(const std::string& id) {
  auto tx = live_.begin();
  auto out = records::get(*tx, id);
  tx->commit();
  return out;
}

void Service::reap() {
  std::vector<std::shared_ptr<Running>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->done) {
        finished.push_back(it->second);
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& r : finished) {
    if (r->thread.joinable()) r->thread.join();
  }
}

void Service::sweep() {
  reap();
  const int64_t now = clock_.nowMs();
  std::vector<Record> expired;
  {
    auto tx = live_.begin();
    expired = records::expired(*tx, now, now - kAbandonedMs);
    tx->commit();
  }
  for (Record& r : expired) {
    const bool retiredCopy = r.state == "switched";
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_.count(r.id) > 0) continue;  // alive here (a long switch)
    }
    {
      auto tx = live_.begin();
      const bool mine =
          records::claim(*tx, r.id, r.state, retiredCopy ? "dropping" : "failed", now);
      tx->commit();
      if (!mine) continue;  // another replica has it
    }
    try {
      if (retiredCopy) {
        Shadow::dropRetired(live_, r.retired, r.tables);
        r.state = "dropped";
        r.droppedAt = now;
      } else {
        Shadow::dropAbandoned(live_, r.shadow);
        r.state = "failed";
        r.error = "abandoned: the process running it stopped (its shadow was removed)";
      }
      r.updatedAt = clock_.nowMs();
      auto tx = live_.begin();
      records::update(*tx, r);
      tx->commit();
      log::write(log::Level::Info,
                 retiredCopy ? "rebuild: the retired read model was dropped (grace period over)"
                             : "rebuild: an abandoned rebuild's shadow was removed",
                 json{{"rebuild", r.id},
                      {"component", r.component},
                      {"retired", r.retired},
                      {"tables", r.tables}});
    } catch (const std::exception& e) {
      log::write(log::Level::Warn, "rebuild janitor: cleanup failed; it tries again later",
                 json{{"rebuild", r.id}, {"error", e.what()}});
      auto tx = live_.begin();
      records::claim(*tx, r.id, retiredCopy ? "dropping" : "failed", r.state, clock_.nowMs());
      tx->commit();
    }
  }
}

void Service::janitorLoop() {
  const int periodMs =
      std::clamp(config_.rebuild.gracePeriodSeconds * 500, 1000, 30000);  // half the grace
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(periodMs), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    try {
      sweep();
    } catch (const std::exception& e) {
      log::write(log::Level::Warn, "rebuild janitor: store unavailable; trying again later",
                 json{{"error", e.what()}});
    }
    lock.lock();
  }
}

}  // namespace plexus::rebuild
