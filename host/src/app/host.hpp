#pragma once
// The parts of one running host, each owned here, built in dependency order and stopped in
// reverse: metrics, plugin runtime, tracing, store (and its migrations), transport, dispatcher,
// HTTP server. `check`, `migrate` and `run` use the steps they need.

#include "app/migration_watch.hpp"
#include "app/tracing.hpp"
#include "config/config.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::admin {
class FlowSampler;
}
namespace plexus::dispatch {
class Dispatcher;
}
namespace plexus::http {
class Server;
}
namespace plexus::plugin {
class Reloader;
}
namespace plexus::rebuild {
class Service;
}
namespace plexus::transport {
class Transport;
}

namespace plexus::app {

// sysexits.h values: scripts can tell a usage error from a bad config.
constexpr int kExitUsage = 64;
constexpr int kExitUnavailable = 69;
constexpr int kExitConfig = 78;

// A start step failed: the exit code and what to print.
class StartError : public std::runtime_error {
 public:
  StartError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class Host {
 public:
  Host(config::Config config, std::string configFile);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Loads the plugins, registers the process metrics and sets up tracing (exporting only when
  // `serve`). Throws StartError.
  void load(bool serve);
  // `check`: the route table (templates, collisions). Returns the summary line.
  std::string validate();
  // `migrate`: applies framework and plugin migrations; returns the summary line.
  std::string migrate();
  // `run`: store, transport, dispatcher, HTTP; serving when it returns. Throws StartError.
  void start();
  // Graceful: readiness turns 503, HTTP drains, consuming stops, running handlers commit, the
  // outbox is flushed. True when every in-flight request finished in time.
  bool stop();

  // SIGHUP: reloads every plugin whose file or config entry changed (plugin/reload.hpp).
  void reloadChanged();

  int port() const;
  int managementPort() const;  // 0 without a management listener
  const config::Config& config() const { return config_; }
  const plugin::Runtime& runtime() const { return runtime_; }

 private:
  void openStore();
  void startDispatch();  // the dispatcher (and the transport's consumer) once migrated
  void startFlowSampler();

  config::Config config_;
  std::string configFile_;
  Metrics metrics_;
  plugin::Runtime runtime_;
  Tracing tracing_;
  std::unique_ptr<store::Store> store_;
  std::atomic<bool> migrated_{true};
  std::unique_ptr<transport::Transport> transport_;
  std::unique_ptr<dispatch::Dispatcher> dispatcher_;
  std::unique_ptr<plugin::Reloader> reloader_;
  std::unique_ptr<rebuild::Service> rebuilds_;  // read-model rebuilds, replay answers, janitor
  std::unique_ptr<admin::FlowSampler> flow_;    // the console's charts; outlives the server
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<MigrationWatch> watch_;
};

}  // namespace plexus::app
