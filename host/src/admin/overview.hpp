#pragma once
// /admin/overview (service, version, ABI, uptime, readiness, broker, store, dead-letter count,
// message rates) and /admin/plugins (each plugin with its components, routes and migrations).

#include "config/config.hpp"
#include "plugin/runtime.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace plexus::admin {

class FlowSampler;

class Overview {
 public:
  using Clock = std::function<int64_t()>;  // Unix ms
  // `readiness` answers what /health/ready would.
  Overview(const config::Config& config, const plugin::Runtime& runtime,
           std::function<plugin::HttpResponse()> readiness, Clock clock);

  void attach(store::Store* store) { store_ = store; }
  void attachFlow(const FlowSampler* flow) { flow_ = flow; }

  plugin::HttpResponse overview(const plugin::HttpRequest& req, std::string& routeLabel) const;
  plugin::HttpResponse plugins(const plugin::HttpRequest& req, std::string& routeLabel) const;

  // amqp://user:secret@host:5672/vhost -> amqp://host:5672/vhost (never show credentials).
  static std::string withoutCredentials(const std::string& url);

 private:
  const config::Config& config_;
  const plugin::Runtime& runtime_;
  std::function<plugin::HttpResponse()> readiness_;
  Clock clock_;
  int64_t startedAtMs_;
  store::Store* store_ = nullptr;
  const FlowSampler* flow_ = nullptr;
};

}  // namespace plexus::admin
