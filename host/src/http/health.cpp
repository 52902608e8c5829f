#include "http/health.hpp"

#include "dispatch/outbox_monitor.hpp"
#include "observability/log.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>

namespace plexus::http {
namespace {

using nlohmann::json;

plugin::HttpResponse jsonResponse(int status, const json& body) {
  plugin::HttpResponse out;
  out.status = status;
  out.body = body.dump();
  return out;
}

}  // namespace

plugin::HttpResponse Health::live() const { return jsonResponse(200, json{{"status", "ok"}}); }

plugin::HttpResponse Health::ready() const {
  json checks = json::object();
  std::vector<std::string> reasons;
  if (store_ != nullptr) {
    std::string err;
    if (!store_->ping(err)) {
      checks["store"] = "unreachable";
      reasons.push_back("store unreachable: " + err);
    } else if (migrated_ != nullptr && !migrated_->load()) {
      checks["store"] = "unmigrated";
      reasons.push_back("migrations missing: run plexus-host migrate --config FILE");
    } else {
      checks["store"] = "ok";
      if (outbox_ != nullptr) {
        try {
          const auto reading = outbox_->read();
          const int64_t age = reading.oldestAgeMs;
          const int64_t pending = reading.pending;
          const bool stalled = age > int64_t{stallSeconds_} * 1000;
          checks["outbox"] = json{{"status", stalled ? "degraded" : "ok"},
                                  {"pending", pending},
                                  {"oldest_age_seconds", static_cast<double>(age) / 1000.0}};
          if (stalled) {
            log::write(log::Level::Warn, "outbox stalled",
                       json{{"oldest_age_seconds", age / 1000}, {"pending", pending}});
          }
        } catch (const std::exception& e) {
          checks["outbox"] = json{{"status", "unknown"}, {"error", e.what()}};
        }
      }
    }
  }
  if (transportState_) {
    const std::string state = transportState_();
    checks["broker"] = state;  // degraded is reported, not fatal: commands still go to the outbox
    if (transportNodes_) {
      json nodes = json::object();
      for (const auto& [role, node] : transportNodes_()) {
        nodes[role] = node.empty() ? json() : json(node);
      }
      checks["broker_nodes"] = nodes;
    }
    if (state != "connected")
      log::write(log::Level::Warn, "broker degraded", json{{"state", state}});
  }
  if (runtime_.failed()) {
    checks["plugins"] = "failed";
    reasons.push_back(runtime_.failure());
  } else {
    checks["plugins"] = "ok";
  }
  if (draining_.load()) {
    checks["shutdown"] = "draining";
    reasons.push_back("the host is shutting down");
  }
  const bool ready = reasons.empty();
  json body{{"status", ready ? "ready" : "not_ready"}, {"service", service_}, {"checks", checks}};
  if (!ready) body["reasons"] = reasons;
  return jsonResponse(ready ? 200 : 503, body);
}

}  // namespace plexus::http
