#pragma once
// One rebuild of a perspective's read model from the events it subscribes to, beside the model
// that keeps serving (docs/operations.md, "Rebuild a read model"):
//   preparing    a shadow location with the plugin's migrations applied (rebuild/shadow.hpp)
//   replaying    every past event, in stream order, through an instance of the perspective of its
//                own, into the shadow (rebuild/applier.hpp)
//   catching-up  what arrived meanwhile, until nothing is left
//   switching    one transaction, with the live perspective held still on every replica: the
//                rest of the tail, the live inbox told about what the shadow already applied, the
//                shadow's tables in, the old ones to the retired location
//   switched     the old copy is dropped after the grace period (rebuild/service.hpp)
// A failure at any point discards the shadow; the old model was never touched.

#include "config/config.hpp"
#include "plugin/loader.hpp"
#include "rebuild/applier.hpp"
#include "rebuild/record.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace plexus {
class Clock;
class Metrics;
}  // namespace plexus
namespace plexus::store {
class Store;
}

namespace plexus::rebuild {

class Shadow;
class Source;

struct Target {
  std::shared_ptr<plugin::LoadedPlugin> plugin;
  config::Plugin entry;     // its config entry (components filter, plugin config)
  std::string perspective;  // the component's name in the plugin
  // The read model's tables: exactly these when given; else the shadow tables the replay filled
  // (a plugin's migrations create its receptors' tables too, which a rebuild must leave alone).
  std::vector<std::string> tables;
};

class Rebuild {
 public:
  // `owner`: who runs it (the host instance, or the rebuild command); `inHost`: inside the host
  // that serves `live` (the admin endpoint).
  Rebuild(const config::Config& config, store::Store& live, Metrics& metrics, const Clock& clock,
          Target target, std::string owner, bool inHost);
  ~Rebuild();
  Rebuild(const Rebuild&) = delete;
  Rebuild& operator=(const Rebuild&) = delete;

  const std::string& id() const { return record_.id; }
  const std::string& component() const { return record_.component; }

  // Checks the target and records the rebuild. Throws RebuildError (no such perspective, one of
  // it is running already) or store::SqlError.
  void begin();
  // Runs to the switch. On failure the shadow is gone, the record says why (state failed or
  // cancelled) and RebuildError is thrown.
  Record run();
  // run() stops before its next batch (state cancelled).
  void cancel() { cancelled_ = true; }
  Record snapshot() const;

 private:
  void prepare();
  void replay();
  void catchUp();
  void switchOver();
  bool switchOnce();
  // One shadow transaction: `read` gives events, which are applied. Returns how many it gave.
  size_t batch(const std::function<std::vector<Message>(store::Transaction&)>& read);
  void account(const Counts& c);
  void setState(const std::string& state);
  void persist(bool force);
  void checkCancelled() const;
  void fail(const std::string& state, const std::string& error);

  const config::Config& config_;
  store::Store& live_;
  Metrics& metrics_;
  const Clock& clock_;
  Target target_;
  bool inHost_;
  std::vector<std::string> types_;
  plugin::Component* perspective_ = nullptr;
  std::unique_ptr<plugin::Runtime> runtime_;  // serves the rebuild's perspective only
  std::vector<std::unique_ptr<plugin::Component>> components_;
  std::unique_ptr<Shadow> shadow_;
  std::unique_ptr<Source> source_;
  std::unique_ptr<Applier> applier_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  Record record_;
  int64_t persistedAt_ = 0;
  int64_t loggedAt_ = 0;
  int64_t eventsMetric_ = 0, lagMetric_ = 0, runningMetric_ = 0;
};

// The perspective `plugin/perspective` names: its plugin among `plugins` and its config entry in
// `config` (matched by the plugin's file). Throws RebuildError naming what is missing.
Target findTarget(const config::Config& config,
                  const std::vector<std::shared_ptr<plugin::LoadedPlugin>>& plugins,
                  const std::string& component);

}  // namespace plexus::rebuild
