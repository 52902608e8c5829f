#pragma once
// The host's HTTP surface: plugin routes, /health, /health/ready, /metrics and /admin/ on the main
// port, and the probes and /metrics alone on the management port (http.management_port). The
// front end (http/front_end.hpp) reads requests; this class decides what they get.

#include "config/config.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace plexus {
class Metrics;
namespace plugin {
class Runtime;
}
namespace dispatch {
class Dispatcher;
}
namespace store {
class Store;
}
}  // namespace plexus

namespace plexus::http {

class AdminApi;
class FrontEnd;

class Server {
 public:
  Server(const config::Config& config, plugin::Runtime& runtime, Metrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();                // binds and serves; throws Poco::Net::NetException on a busy port
  int port() const;            // the bound port (useful with port 0)
  int managementPort() const;  // 0 without a management listener

  // Graceful stop: readiness turns 503 at once, requests keep being served for `shutdownDelayMs`,
  // then the listeners close and in-flight requests get up to `drainSeconds` to finish. Returns
  // true when every in-flight request finished in time.
  bool shutdown();

  bool draining() const { return draining_.load(); }

  // The durable runtime, when configured: readiness checks the store, the migrations and the
  // outbox; /admin/dead-letters works on the dispatcher's dead letters.
  void attach(store::Store* store, dispatch::Dispatcher* dispatcher,
              const std::atomic<bool>* migrated);
  // The broker's state for readiness: "connected" or "degraded: ..." (reported, still ready).
  void attachTransportState(std::function<std::string()> state,
                            std::function<std::map<std::string, std::string>()> nodes = {});

  // The admin API (/admin/...), for wiring what it shows (the flow sampler).
  AdminApi& admin();

  struct Context;

 private:
  const config::Config& config_;
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<FrontEnd> frontEnd_;
  std::atomic<bool> draining_{false};
};

}  // namespace plexus::http
