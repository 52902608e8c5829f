#pragma once
// Liveness and readiness (DESIGN.md §3): what /health and /health/ready answer, independent of the
// listener that serves them.

#include "plugin/runtime.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace plexus::dispatch {
class OutboxMonitor;
}
namespace plexus::store {
class Store;
}

namespace plexus::http {

class Health {
 public:
  // How long readiness waits for the store's answer before it reports the store as not answering
  // (a hung PostgreSQL must not hang the probe: Kubernetes would count a timeout, not a reason).
  static constexpr std::chrono::milliseconds kStoreCheckBudget{2000};

  Health(std::string service, int stallSeconds, const plugin::Runtime& runtime,
         const std::atomic<bool>& draining)
      : service_(std::move(service)),
        stallSeconds_(stallSeconds),
        runtime_(runtime),
        draining_(draining) {}
  ~Health();  // waits for a store check still running (bounded by the store's own deadlines)
  Health(const Health&) = delete;
  Health& operator=(const Health&) = delete;

  // The durable runtime, when configured: readiness checks the store, the migrations and the
  // outbox.
  void attach(store::Store* store, dispatch::OutboxMonitor* outbox,
              const std::atomic<bool>* migrated) {
    store_ = store;
    outbox_ = outbox;
    migrated_ = migrated;
  }
  // The broker's state: "connected" or "degraded: ..." (reported, still ready); and the node each
  // broker connection uses (role -> "host:port", "" while not connected).
  void attachTransportState(std::function<std::string()> state,
                            std::function<std::map<std::string, std::string>()> nodes = {}) {
    transportState_ = std::move(state);
    transportNodes_ = std::move(nodes);
  }

  plugin::HttpResponse live() const;
  // 200 "ready" or 503 "not_ready" with reasons; checks always listed. Answers within about
  // kStoreCheckBudget even when the store hangs.
  plugin::HttpResponse ready();

 private:
  struct StoreCheck {
    nlohmann::json checks = nlohmann::json::object();
    std::vector<std::string> reasons;
  };
  StoreCheck checkStore() const;
  // checkStore() on the checker thread: at most one check at a time; a caller waits for the
  // check under way (or a new one) up to the budget.
  bool boundedCheck(StoreCheck& out);
  void runChecks();

  std::string service_;
  int stallSeconds_;
  const plugin::Runtime& runtime_;
  const std::atomic<bool>& draining_;
  store::Store* store_ = nullptr;
  dispatch::OutboxMonitor* outbox_ = nullptr;
  const std::atomic<bool>* migrated_ = nullptr;
  std::function<std::string()> transportState_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread checker_;
  bool requested_ = false;
  bool running_ = false;
  bool stop_ = false;
  uint64_t completed_ = 0;
  std::chrono::steady_clock::time_point runningSince_;
  StoreCheck last_;
  std::function<std::map<std::string, std::string>()> transportNodes_;
};

}  // namespace plexus::http
