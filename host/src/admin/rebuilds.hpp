#pragma once
// The admin API of read-model rebuilds (rebuild/service.hpp; docs/api.md):
//   POST   /admin/rebuilds {"component": "plugin/perspective", "tables"?: [...]}  202, runs here
//   GET    /admin/rebuilds[?limit=N]   newest first, from every replica and the rebuild command
//   GET    /admin/rebuilds/{id}        its progress
//   DELETE /admin/rebuilds/{id}        cancels one running in this host (the old model stays)

#include "plugin/runtime.hpp"

#include <string>
#include <vector>

namespace plexus::rebuild {
class Service;
}

namespace plexus::admin {

class Rebuilds {
 public:
  void attach(rebuild::Service* service) { service_ = service; }
  plugin::HttpResponse handle(const plugin::HttpRequest& req, const std::vector<std::string>& segs,
                              std::string& routeLabel);

 private:
  plugin::HttpResponse start(const plugin::HttpRequest& req);
  rebuild::Service* service_ = nullptr;
};

}  // namespace plexus::admin
