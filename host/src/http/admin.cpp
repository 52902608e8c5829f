#include "http/admin.hpp"

#include "dispatch/dead_letter_admin.hpp"
#include "http/router.hpp"
#include "observability/log.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>

namespace plexus::http {
namespace {

using nlohmann::json;

plugin::HttpResponse jsonOk(int status, const json& body) {
  plugin::HttpResponse out;
  out.status = status;
  out.body = body.dump();
  return out;
}

plugin::HttpResponse methodNotAllowed(const std::string& allow) {
  plugin::HttpResponse out = jsonError(405, "method not allowed");
  out.headers.emplace_back("Allow", allow);
  return out;
}

// ?limit=N, 1..1000, default 100; -1 when malformed or out of range.
int limitParam(const std::string& query) {
  const size_t at = query.find("limit=");
  if (at == std::string::npos) return 100;
  try {
    const int limit = std::stoi(query.substr(at + 6));
    return limit >= 1 && limit <= 1000 ? limit : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

plugin::HttpResponse jsonError(int status, const std::string& message) {
  return jsonOk(status, json{{"error", message}});
}

plugin::HttpResponse AdminApi::handle(const plugin::HttpRequest& req, std::string& routeLabel) {
  std::vector<std::string> segs;
  routeLabel = "/admin/*";
  if (!Router::split(req.path, segs) || segs.size() < 2) return jsonError(404, "not found");
  try {
    if (segs[1] == "dead-letters") return deadLetters(req, segs, routeLabel);
    return jsonError(404, "not found");
  } catch (const store::SqlError& e) {
    log::write(log::Level::Warn, "admin request failed",
               json{{"request_id", req.requestId}, {"error", e.what()}});
    plugin::HttpResponse out = jsonError(503, "store unavailable, retry later");
    out.headers.emplace_back("Retry-After", "1");
    return out;
  }
}

// GET /admin/dead-letters[?limit=N], POST /admin/dead-letters/{id}/retry,
// DELETE /admin/dead-letters/{id}.
plugin::HttpResponse AdminApi::deadLetters(const plugin::HttpRequest& req,
                                           const std::vector<std::string>& segs,
                                           std::string& routeLabel) {
  routeLabel = "/admin/dead-letters";
  if (deadLetters_ == nullptr) return jsonError(404, "this host has no message store");
  if (segs.size() == 2) {
    if (req.method != "GET") return methodNotAllowed("GET");
    const int limit = limitParam(req.query);
    if (limit < 0) return jsonError(400, "limit must be between 1 and 1000");
    return jsonOk(200, deadLetters_->list(limit));
  }
  routeLabel = segs.size() == 3 ? "/admin/dead-letters/{id}" : "/admin/dead-letters/{id}/retry";
  if (segs.size() == 3 && req.method == "DELETE") {
    if (!deadLetters_->discard(segs[2])) return jsonError(404, "no such dead letter");
    plugin::HttpResponse out;
    out.status = 204;
    return out;
  }
  if (segs.size() == 4 && segs[3] == "retry" && req.method == "POST") {
    if (!deadLetters_->retry(segs[2])) return jsonError(404, "no such dead letter");
    return jsonOk(202, json{{"status", "requeued"}, {"id", segs[2]}});
  }
  if (segs.size() == 3) return methodNotAllowed("DELETE");
  if (segs.size() == 4 && segs[3] == "retry") return methodNotAllowed("POST");
  routeLabel = "/admin/*";
  return jsonError(404, "not found");
}

}  // namespace plexus::http
