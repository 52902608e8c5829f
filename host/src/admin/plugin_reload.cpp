#include "admin/plugin_reload.hpp"

#include "admin/response.hpp"
#include "plugin/reload.hpp"

namespace plexus::admin {

plugin::HttpResponse PluginReload::handle(const plugin::HttpRequest& req, const std::string& name,
                                          std::string& routeLabel) {
  routeLabel = "/admin/plugins/{name}/reload";
  if (req.method != "POST") return methodNotAllowed("POST");
  if (reloader_ == nullptr)
    return jsonError(503, "plugin reload is not available until the host serves");
  const plugin::ReloadOutcome outcome = reloader_->reload(name);
  return jsonOk(outcome.status, outcome.toJson());
}

}  // namespace plexus::admin
