#include "http/health.hpp"

#include "dispatch/outbox_monitor.hpp"
#include "observability/log.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>

namespace plexus::http {
namespace {

using nlohmann::json;

plugin::HttpResponse jsonResponse(int status, const json& body) {
  plugin::HttpResponse out;
  out.status = status;
  out.body = body.dump();
  return out;
}

}  // namespace

plugin::HttpResponse Health::live() const { return jsonResponse(200, json{{"status", "ok"}}); }

Health::~Health() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (checker_.joinable()) checker_.join();
}

Health::StoreCheck Health::checkStore() const {
  StoreCheck out;
  json& checks = out.checks;
  std::vector<std::string>& reasons = out.reasons;
  std::string err;
  if (!store_->ping(err)) {
    checks["store"] = "unreachable";
    reasons.push_back("store unreachable: " + err);
  } else if (migrated_ != nullptr && !migrated_->load()) {
    checks["store"] = "unmigrated";
    reasons.push_back("migrations missing: run plexus-host migrate --config FILE");
  } else {
    checks["store"] = "ok";
    if (outbox_ != nullptr) {
      try {
        const auto reading = outbox_->read();
        const int64_t age = reading.oldestAgeMs;
        const int64_t pending = reading.pending;
        const bool stalled = age > int64_t{stallSeconds_} * 1000;
        checks["outbox"] = json{{"status", stalled ? "degraded" : "ok"},
                                {"pending", pending},
                                {"oldest_age_seconds", static_cast<double>(age) / 1000.0}};
        if (stalled) {
          log::write(log::Level::Warn, "outbox stalled",
                     json{{"oldest_age_seconds", age / 1000}, {"pending", pending}});
        }
      } catch (const std::exception& e) {
        checks["outbox"] = json{{"status", "unknown"}, {"error", e.what()}};
      }
    }
  }
  return out;
}

void Health::runChecks() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || requested_; });
    if (stop_) return;
    requested_ = false;
    running_ = true;
    runningSince_ = std::chrono::steady_clock::now();
    lock.unlock();
    StoreCheck result;
    try {
      result = checkStore();
    } catch (const std::exception& e) {
      result.checks["store"] = "unreachable";
      result.reasons.push_back(std::string("store unreachable: ") + e.what());
    }
    lock.lock();
    last_ = std::move(result);
    running_ = false;
    ++completed_;
    cv_.notify_all();
  }
}

bool Health::boundedCheck(StoreCheck& out) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!checker_.joinable()) checker_ = std::thread([this] { runChecks(); });
  // A check under way answers this caller too; otherwise ask for a fresh one.
  const uint64_t want = completed_ + 1;
  if (!running_) requested_ = true;
  cv_.notify_all();
  if (!cv_.wait_for(lock, kStoreCheckBudget, [&] { return completed_ >= want; })) return false;
  out = last_;
  return true;
}

plugin::HttpResponse Health::ready() {
  json checks = json::object();
  std::vector<std::string> reasons;
  if (store_ != nullptr) {
    StoreCheck sc;
    if (boundedCheck(sc)) {
      for (auto it = sc.checks.begin(); it != sc.checks.end(); ++it) checks[it.key()] = it.value();
      reasons = std::move(sc.reasons);
    } else {
      int64_t waited = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - runningSince_)
                     .count();
      }
      checks["store"] = "not answering";
      reasons.push_back("store not answering: a readiness check has waited " +
                        std::to_string(waited) + " ms");
    }
  }
  if (transportState_) {
    const std::string state = transportState_();
    checks["broker"] = state;  // degraded is reported, not fatal: commands still go to the outbox
    if (transportNodes_) {
      json nodes = json::object();
      for (const auto& [role, node] : transportNodes_()) {
        nodes[role] = node.empty() ? json() : json(node);
      }
      checks["broker_nodes"] = nodes;
    }
    if (state != "connected")
      log::write(log::Level::Warn, "broker degraded", json{{"state", state}});
  }
  if (runtime_.failed()) {
    checks["plugins"] = "failed";
    reasons.push_back(runtime_.failure());
  } else {
    checks["plugins"] = "ok";
  }
  if (draining_.load()) {
    checks["shutdown"] = "draining";
    reasons.push_back("the host is shutting down");
  }
  const bool ready = reasons.empty();
  json body{{"status", ready ? "ready" : "not_ready"}, {"service", service_}, {"checks", checks}};
  if (!ready) body["reasons"] = reasons;
  return jsonResponse(ready ? 200 : 503, body);
}

}  // namespace plexus::http
