#pragma once
// Live upgrade of a plugin in a running host (POST /admin/plugins/{name}/reload, SIGHUP for all;
// docs/operations.md, "Upgrade a plugin without a restart"). The config file is read again; the
// plugin's file (same name) goes through every load check (trust, sha256 pin from the re-read
// config, ABI, descriptor); its components are created; its new migrations are applied; then new
// messages and requests go to the new version while calls already running on the old one finish
// (bounded by the drain timeout). The old library is never unloaded. Any failure leaves the old
// version serving and names the reason. A reload keeps the plugin's shape: the same components,
// message types and routes (what the broker's bindings and the HTTP router were built from); a
// version that changes them is refused and goes out with a restart (rolling update).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace plexus {
class Metrics;
}
namespace plexus::config {
struct Config;
}
namespace plexus::store {
class Store;
}

namespace plexus::plugin {

class Runtime;

struct ReloadOutcome {
  std::string plugin;
  bool reloaded = false;
  bool unchanged = false;  // SIGHUP: neither the file nor its config entry changed; left alone
  int status = 200;        // for the admin API: 200; 400 config unreadable; 404 no such plugin;
                           // 409 the new version was refused (reason says why)
  std::string reason;      // why it was refused
  std::string from, to;    // versions
  std::string sha256;      // of the new version's file
  int migrationsApplied = 0;
  bool drained = true;  // every call running on the old version ended within the drain timeout
  int64_t drainMs = 0;
  nlohmann::json toJson() const;
};

class Reloader {
 public:
  // `loaded`: the config the host started with. `store` may be null (no durable runtime: no
  // migrations to apply).
  Reloader(Runtime& runtime, Metrics& metrics, const config::Config& loaded, store::Store* store,
           int drainTimeoutMs);

  // One plugin, by its name, whether or not it changed. Reloads run one at a time.
  ReloadOutcome reload(const std::string& name);
  // SIGHUP: every plugin whose file or config entry changed, each on its own (one refused
  // version does not stop the others).
  std::vector<ReloadOutcome> reloadChanged();

 private:
  ReloadOutcome reloadLocked(const std::string& name);

  Runtime& runtime_;
  Metrics& metrics_;
  std::string configFile_;
  std::map<std::string, std::string> entries_;  // plugin path -> its config entry as loaded
  store::Store* store_;
  int drainTimeoutMs_;
  std::mutex mu_;
};

}  // namespace plexus::plugin
