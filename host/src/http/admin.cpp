#include "http/admin.hpp"

#include "admin/console.hpp"
#include "admin/flow_sampler.hpp"
#include "admin/response.hpp"
#include "http/router.hpp"
#include "observability/log.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

namespace plexus::http {
namespace {

using nlohmann::json;

int64_t wallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

plugin::HttpResponse jsonError(int status, const std::string& message) {
  return admin::jsonError(status, message);
}

AdminApi::AdminApi(const config::Config& config, const plugin::Runtime& runtime,
                   std::function<plugin::HttpResponse()> readiness)
    : overview_(config, runtime, std::move(readiness), wallClockMs), peers_(config.console) {}

void AdminApi::attach(store::Store* store, dispatch::DeadLetterAdmin* deadLetters) {
  overview_.attach(store);
  deadLetters_.attach(store, deadLetters);
  streams_.attach(store);
}

void AdminApi::attachFlow(const admin::FlowSampler* flow) {
  flow_ = flow;
  overview_.attachFlow(flow);
}

plugin::HttpResponse AdminApi::handle(const plugin::HttpRequest& req, std::string& routeLabel) {
  std::vector<std::string> segs;
  routeLabel = "/admin/*";
  if (!Router::split(req.path, segs) || segs.size() < 2) return jsonError(404, "not found");
  const std::string& what = segs[1];
  try {
    if (what == "console") return admin::serveConsole(req, segs, routeLabel);
    if (what == "dead-letters") return deadLetters_.handle(req, segs, routeLabel);
    if (what == "overview" && segs.size() == 2) return overview_.overview(req, routeLabel);
    if (what == "plugins" && segs.size() == 2) return overview_.plugins(req, routeLabel);
    if (what == "plugins" && segs.size() == 4 && segs[3] == "reload")
      return reload_.handle(req, segs[2], routeLabel);
    if (what == "rebuilds") return rebuilds_.handle(req, segs, routeLabel);
    if (what == "streams") return streams_.streams(req, segs, routeLabel);
    if (what == "messages") return streams_.messages(req, segs, routeLabel);
    if (what == "peers") return peers_.handle(req, segs, routeLabel);
    if (what == "flow" && segs.size() == 2) {
      if (flow_ == nullptr) return jsonError(404, "the flow sampler is not running on this host");
      return flow_->handle(req, routeLabel);
    }
    return jsonError(404, "not found");
  } catch (const admin::BadParam& e) {
    return jsonError(400, e.what());
  } catch (const store::SqlError& e) {
    log::write(log::Level::Warn, "admin request failed",
               json{{"request_id", req.requestId}, {"error", e.what()}});
    plugin::HttpResponse out = jsonError(503, "store unavailable, retry later");
    out.headers.emplace_back("Retry-After", "1");
    return out;
  }
}

}  // namespace plexus::http
