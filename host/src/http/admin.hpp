#pragma once
// The host's admin API under /admin/ (docs/api.md, "Admin API"): the operator console's static
// files and the JSON endpoints under it. It works on plain requests, so it does not depend on how
// the HTTP server reads them; the server applies auth and limits before it. Each endpoint family
// lives in host/src/admin/; this class only routes to them.

#include "admin/dead_letters.hpp"
#include "admin/overview.hpp"
#include "admin/peers.hpp"
#include "admin/plugin_reload.hpp"
#include "admin/rebuilds.hpp"
#include "admin/streams.hpp"
#include "config/config.hpp"
#include "plugin/runtime.hpp"

#include <functional>
#include <string>

namespace plexus::dispatch {
class DeadLetterAdmin;
}
namespace plexus::admin {
class FlowSampler;
}

namespace plexus::http {

class AdminApi {
 public:
  // `readiness` answers what /health/ready would (the overview shows it).
  AdminApi(const config::Config& config, const plugin::Runtime& runtime,
           std::function<plugin::HttpResponse()> readiness);

  // The durable runtime, when configured; without it the store-backed endpoints answer 404 with a
  // reason.
  void attach(store::Store* store, dispatch::DeadLetterAdmin* deadLetters);
  // The flow sampler, once the host runs one; /admin/flow answers 404 before.
  void attachFlow(const admin::FlowSampler* flow);
  // Live upgrades (POST /admin/plugins/{name}/reload), once the host serves.
  void attachReloader(plugin::Reloader* reloader) { reload_.attach(reloader); }
  // Read-model rebuilds (/admin/rebuilds), once the host serves with a store.
  void attachRebuilds(rebuild::Service* service) { rebuilds_.attach(service); }

  // Answers one request whose path starts with /admin/. `routeLabel` gets the endpoint's template
  // (for metrics and traces; never an id).
  plugin::HttpResponse handle(const plugin::HttpRequest& request, std::string& routeLabel);

 private:
  admin::Overview overview_;
  admin::DeadLetters deadLetters_;
  admin::Streams streams_;
  admin::Peers peers_;
  admin::PluginReload reload_;
  admin::Rebuilds rebuilds_;
  const admin::FlowSampler* flow_ = nullptr;
};

// A JSON error body {"error": message} with `status`.
plugin::HttpResponse jsonError(int status, const std::string& message);

}  // namespace plexus::http
