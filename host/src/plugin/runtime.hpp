#pragma once
// The loaded plugin set of one host: component instances, the host API table they call, local
// invoke of receptors and the route table the HTTP layer serves.

#include "config/config.hpp"
#include "plugin/loader.hpp"

#include <plexus/abi/plugin_abi.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace plexus {
class Metrics;
}

namespace plexus::plugin {

struct Component;

struct RouteBinding {
  std::string method;
  std::string pathTemplate;
  Component* component;
};

// A request as the HTTP layer hands it over.
struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  std::string requestId;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpResponse {
  int status = 500;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class Runtime {
 public:
  explicit Runtime(Metrics& metrics);
  ~Runtime();  // destroys component instances; plugins stay loaded
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Loads every plugin of the config, validates the set (unknown components, duplicate routes,
  // two owners of one command) and creates the instances. Throws PluginError.
  void start(const config::Config& config);

  const std::vector<std::shared_ptr<LoadedPlugin>>& plugins() const { return plugins_; }
  const std::vector<RouteBinding>& routes() const { return routes_; }
  size_t componentCount() const { return components_.size(); }

  HttpResponse handle(const RouteBinding& route, const HttpRequest& request);

  // True once a hook returned FATAL: the host turns not-ready.
  bool failed() const { return failed_.load(); }
  std::string failure() const;

  // Used by the host API implementation.
  Metrics& metrics() { return metrics_; }
  Component* receptorFor(const std::string& type) const;
  void markFatal(const std::string& who, const std::string& reason);

 private:
  Metrics& metrics_;
  std::string service_;
  std::vector<std::shared_ptr<LoadedPlugin>> plugins_;
  std::vector<std::unique_ptr<Component>> components_;
  std::vector<RouteBinding> routes_;
  std::map<std::string, Component*> commandOwners_;
  std::atomic<bool> failed_{false};
  mutable std::mutex failureMu_;
  std::string failure_;
};

// The host API table handed to every component (static, process lifetime).
const plexus_host_api* hostApi();

}  // namespace plexus::plugin
