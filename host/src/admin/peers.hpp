#pragma once
// /admin/peers: the system view's peers (console.peers) and a read-only proxy to their admin API.
// The host asks its peers itself, rather than the browser, because peer URLs are usually
// cluster-internal Service names the operator's browser cannot reach, and because a same-origin
// console needs no CORS. The caller's Authorization header is passed on unchanged: every peer
// checks the token itself.

#include "config/console.hpp"
#include "plugin/runtime.hpp"

#include <atomic>
#include <string>
#include <vector>

namespace plexus::admin {

class Peers {
 public:
  // Proxied requests at once; more get 503 (each may hold a request thread for the timeout).
  static constexpr int kMaxInFlight = 32;
  // A peer answer larger than this is refused (502).
  static constexpr size_t kMaxBodyBytes = 8u << 20;

  explicit Peers(const config::Console& console) : console_(console) {}

  // GET /admin/peers; GET /admin/peers/{index}/{overview|plugins|flow|dead-letters|streams/{id}|
  // messages[/{id}]}
  plugin::HttpResponse handle(const plugin::HttpRequest& req, const std::vector<std::string>& segs,
                              std::string& routeLabel);

 private:
  plugin::HttpResponse proxy(const config::Peer& peer, const std::string& target,
                             const plugin::HttpRequest& req);

  const config::Console& console_;
  std::atomic<int> inFlight_{0};
};

}  // namespace plexus::admin
