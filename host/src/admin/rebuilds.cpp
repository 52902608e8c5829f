#include "admin/rebuilds.hpp"

#include "admin/response.hpp"
#include "rebuild/service.hpp"

#include <nlohmann/json.hpp>

namespace plexus::admin {
namespace {
using nlohmann::json;
}

plugin::HttpResponse Rebuilds::handle(const plugin::HttpRequest& req,
                                      const std::vector<std::string>& segs,
                                      std::string& routeLabel) {
  if (service_ == nullptr) {
    return jsonError(404, "rebuilds need the durable runtime (a store) and a serving host");
  }
  if (segs.size() == 2) {
    routeLabel = "/admin/rebuilds";
    if (req.method == "POST") return start(req);
    if (req.method != "GET") return methodNotAllowed("GET, POST");
    const int64_t limit = Query(req.query).integer("limit", 20, 1, 500);
    json list = json::array();
    for (const auto& r : service_->list(static_cast<int>(limit))) list.push_back(r.toJson());
    return jsonOk(200, json{{"rebuilds", list}});
  }
  if (segs.size() != 3) return jsonError(404, "not found");
  routeLabel = "/admin/rebuilds/{id}";
  const std::string& id = segs[2];
  if (!validId(id)) return jsonError(400, "not a rebuild id");
  if (req.method == "DELETE") {
    if (!service_->cancel(id))
      return jsonError(409, "rebuild " + id + " is not running in this host");
    return jsonOk(202, json{{"id", id}, {"cancelling", true}});
  }
  if (req.method != "GET") return methodNotAllowed("GET, DELETE");
  const auto r = service_->get(id);
  if (!r) return jsonError(404, "no rebuild " + id);
  return jsonOk(200, r->toJson());
}

plugin::HttpResponse Rebuilds::start(const plugin::HttpRequest& req) {
  const json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("component") || !body["component"].is_string())
    return jsonError(400, R"(expected {"component": "plugin/perspective", "tables"?: [...]})");
  std::vector<std::string> tables;
  if (body.contains("tables")) {
    if (!body["tables"].is_array()) return jsonError(400, "tables must be an array of names");
    for (const auto& t : body["tables"]) {
      if (!t.is_string() || t.get<std::string>().empty())
        return jsonError(400, "tables must be an array of names");
      tables.push_back(t.get<std::string>());
    }
  }
  try {
    const auto r = service_->rebuild(body["component"].get<std::string>(), tables);
    plugin::HttpResponse out = jsonOk(202, r.toJson());
    out.headers.emplace_back("Location", "/admin/rebuilds/" + r.id);
    return out;
  } catch (const rebuild::ServiceError& e) {
    return jsonError(e.status(), e.what());
  }
}

}  // namespace plexus::admin
