#pragma once
// The host's admin API under /admin/ (dead letters today). It works on plain requests, so it does
// not depend on how the HTTP server reads them; the server applies auth and limits before it.

#include "plugin/runtime.hpp"

#include <string>

namespace plexus::dispatch {
class DeadLetterAdmin;
}

namespace plexus::http {

class AdminApi {
 public:
  // `deadLetters` may be null (a host without a store): those endpoints then answer 404 with a
  // reason.
  explicit AdminApi(dispatch::DeadLetterAdmin* deadLetters) : deadLetters_(deadLetters) {}

  void attach(dispatch::DeadLetterAdmin* deadLetters) { deadLetters_ = deadLetters; }

  // Answers one request whose path starts with /admin/. `routeLabel` gets the endpoint's template
  // (for metrics and traces; never an id).
  plugin::HttpResponse handle(const plugin::HttpRequest& request, std::string& routeLabel);

 private:
  plugin::HttpResponse deadLetters(const plugin::HttpRequest& request,
                                   const std::vector<std::string>& segments,
                                   std::string& routeLabel);

  dispatch::DeadLetterAdmin* deadLetters_;
};

// A JSON error body {"error": message} with `status`.
plugin::HttpResponse jsonError(int status, const std::string& message);

}  // namespace plexus::http
