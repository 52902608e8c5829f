#pragma once
// /admin/streams/{id} (a stream's events in order, with the metadata of each) and
// /admin/messages (one message by id, or the messages of one correlation id).

#include "plugin/runtime.hpp"

#include <string>
#include <vector>

namespace plexus::admin {

class Streams {
 public:
  void attach(store::Store* store) { store_ = store; }

  plugin::HttpResponse streams(const plugin::HttpRequest& req, const std::vector<std::string>& segs,
                               std::string& routeLabel);
  plugin::HttpResponse messages(const plugin::HttpRequest& req,
                                const std::vector<std::string>& segs, std::string& routeLabel);

 private:
  store::Store* store_ = nullptr;
};

}  // namespace plexus::admin
