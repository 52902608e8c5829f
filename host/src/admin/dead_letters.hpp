#pragma once
// /admin/dead-letters: the filtered, paginated list, one dead letter, retry and discard of one,
// and retry/discard of a filtered selection confirmed by its count (docs/console.md).

#include "admin/queries.hpp"
#include "plugin/runtime.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace plexus::dispatch {
class DeadLetterAdmin;
}

namespace plexus::admin {

class Query;

class DeadLetters {
 public:
  // Most dead letters one bulk action takes; a larger selection must be narrowed first.
  static constexpr int kMaxBulk = 1000;

  void attach(store::Store* store, dispatch::DeadLetterAdmin* deadLetters) {
    store_ = store;
    admin_ = deadLetters;
  }

  plugin::HttpResponse handle(const plugin::HttpRequest& req, const std::vector<std::string>& segs,
                              std::string& routeLabel);

  static queries::DeadLetterFilter filterFrom(const Query& q);
  static queries::DeadLetterFilter filterFrom(const nlohmann::json& j);

 private:
  plugin::HttpResponse list(const plugin::HttpRequest& req);
  plugin::HttpResponse one(const std::string& id);
  plugin::HttpResponse bulk(const plugin::HttpRequest& req, const std::string& action);

  store::Store* store_ = nullptr;
  dispatch::DeadLetterAdmin* admin_ = nullptr;
};

}  // namespace plexus::admin
