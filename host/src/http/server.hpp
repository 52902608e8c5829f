#pragma once
// The host's HTTP surface on one port: plugin routes, /health, /health/ready, /metrics.

#include "config/config.hpp"
#include "http/router.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}
}  // namespace Poco

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

class Server {
 public:
  Server(const config::Config& config, plugin::Runtime& runtime, Metrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();      // binds and serves; throws on a busy port
  int port() const;  // the bound port (useful with port 0)

  // Graceful stop: readiness turns 503 at once, requests keep being served for `shutdownDelayMs`,
  // then the listener closes and in-flight requests get up to `drainSeconds` to finish. Returns
  // true when every in-flight request finished in time.
  bool shutdown();

  bool draining() const { return draining_.load(); }

  // The durable runtime, when configured: readiness checks the store, the migrations and the
  // outbox; /admin/dead-letters works on the bus.
  void attach(store::Store* store, dispatch::Dispatcher* dispatcher,
              const std::atomic<bool>* migrated);
  // The broker's state for readiness: "connected" or "degraded: ..." (reported, still ready).
  void attachTransportState(std::function<std::string()> state,
                            std::function<std::map<std::string, std::string>()> nodes = {});

  // The admin API (/admin/...), for wiring what it shows (the flow sampler).
  AdminApi& admin();

  // Used by the request handler.
  struct Context;
  Context& context() { return *ctx_; }

 private:
  const config::Config& config_;
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::atomic<bool> draining_{false};
};

}  // namespace plexus::http
