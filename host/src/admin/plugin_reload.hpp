#pragma once
// POST /admin/plugins/{name}/reload: loads the plugin's file again and switches to it without a
// restart (plugin/reload.hpp). 200 with what changed; 404 no such plugin; 409 the new version was
// refused (the old one keeps serving; "error" says why); 503 before the host serves.

#include "plugin/runtime.hpp"

#include <string>

namespace plexus::plugin {
class Reloader;
}

namespace plexus::admin {

class PluginReload {
 public:
  void attach(plugin::Reloader* reloader) { reloader_ = reloader; }
  plugin::HttpResponse handle(const plugin::HttpRequest& req, const std::string& name,
                              std::string& routeLabel);

 private:
  plugin::Reloader* reloader_ = nullptr;
};

}  // namespace plexus::admin
