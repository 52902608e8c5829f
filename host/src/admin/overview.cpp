#include "admin/overview.hpp"

#include "admin/flow_sampler.hpp"
#include "admin/queries.hpp"
#include "admin/response.hpp"
#include "message/message.hpp"
#include "plugin/loader.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>
#include <plexus/sdk/rfc3339.hpp>

#ifndef PLEXUS_VERSION
#define PLEXUS_VERSION "0.0.0"
#endif

namespace plexus::admin {
namespace {

using nlohmann::json;

const char* kindName(plugin::Kind k) {
  switch (k) {
    case plugin::Kind::Receptor:
      return "receptor";
    case plugin::Kind::Perspective:
      return "perspective";
    case plugin::Kind::Route:
      return "route";
  }
  return "?";
}

}  // namespace

Overview::Overview(const config::Config& config, const plugin::Runtime& runtime,
                   std::function<plugin::HttpResponse()> readiness, Clock clock)
    : config_(config),
      runtime_(runtime),
      readiness_(std::move(readiness)),
      clock_(std::move(clock)),
      startedAtMs_(clock_()) {}

std::string Overview::withoutCredentials(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const size_t slash = url.find('/', scheme + 3);
  if (slash != std::string::npos && slash < at) return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}

plugin::HttpResponse Overview::overview(const plugin::HttpRequest& req,
                                        std::string& routeLabel) const {
  routeLabel = "/admin/overview";
  if (req.method != "GET") return methodNotAllowed("GET");
  const int64_t now = clock_();
  const plugin::HttpResponse ready = readiness_();
  json readiness = json::parse(ready.body, nullptr, false);
  if (readiness.is_discarded()) readiness = json::object();
  json out{{"service", config_.service},
           {"version", PLEXUS_VERSION},
           {"abi", std::to_string(PLEXUS_ABI_MAJOR) + "." + std::to_string(PLEXUS_ABI_MINOR)},
           {"instance", runtime_.instance()},
           {"startedAt", rfc3339::format(startedAtMs_)},
           {"uptimeSeconds", (now - startedAtMs_) / 1000},
           {"now", rfc3339::format(now)},
           {"ready", ready.status == 200},
           {"readiness", readiness},
           {"plugins", runtime_.plugins().size()},
           {"routes", runtime_.routes().size()},
           {"components", runtime_.componentCount()},
           {"store", config_.store.kind.empty() ? "none" : config_.store.kind},
           {"peers", config_.console.peers.size()}};
  json broker{{"transport", config_.transport.kind.empty() ? "none" : config_.transport.kind}};
  if (config_.transport.kind == "rabbitmq") {
    json nodes = json::array();
    for (const auto& u : config_.transport.urls) nodes.push_back(withoutCredentials(u));
    if (nodes.empty()) nodes.push_back(withoutCredentials(config_.transport.url));
    broker["nodes"] = nodes;
    broker["state"] = readiness.contains("checks") ? readiness["checks"].value("broker", "") : "";
  }
  out["broker"] = broker;
  if (store_ != nullptr) {
    try {
      auto tx = store_->begin();
      out["deadLetters"] = queries::countDeadLetters(*tx, {});
      tx->commit();
    } catch (const std::exception& e) {
      out["deadLetters"] = nullptr;  // the readiness checks say why
    }
  }
  if (flow_ != nullptr) out["flow"] = flow_->summary();
  return jsonOk(200, out);
}

plugin::HttpResponse Overview::plugins(const plugin::HttpRequest& req,
                                       std::string& routeLabel) const {
  routeLabel = "/admin/plugins";
  if (req.method != "GET") return methodNotAllowed("GET");
  std::vector<queries::MigrationRow> applied;
  std::string migrationsError;
  if (store_ != nullptr) {
    try {
      auto tx = store_->begin();
      applied = queries::migrations(*tx);
      tx->commit();
    } catch (const std::exception& e) {
      migrationsError = "cannot read plexus_migrations: " + std::string(e.what());
    }
  }
  auto appliedAt = [&](const std::string& owner, int64_t version) -> json {
    for (const auto& m : applied)
      if (m.owner == owner && m.version == version) return rfc3339::format(m.appliedAtMs);
    return nullptr;
  };
  // config/store.cpp already turned the old spelling "postgres" into "postgresql".
  const std::string dialect = store_ != nullptr ? store_->dialect().name() : config_.store.kind;
  json list = json::array();
  const auto serving = runtime_.components();  // a reload may replace plugins meanwhile
  for (const auto& plugin : runtime_.plugins()) {
    const auto& p = *plugin;
    json components = json::array(), routes = json::array(), migrations = json::array();
    for (const auto* c : serving) {
      if (c->plugin.get() != &p) continue;
      components.push_back(
          json{{"name", c->name}, {"id", c->id}, {"kind", kindName(c->kind)}, {"types", c->types}});
    }
    for (const auto& r : runtime_.routes()) {
      if (plugin::current(*r.component).plugin.get() == &p)
        routes.push_back(json{{"method", r.method}, {"path", r.pathTemplate}});
    }
    for (const auto& m : p.migrations) {
      const std::string d = m.dialect ? m.dialect : "";
      if (d != "any" && d != dialect) continue;
      migrations.push_back(json{{"version", m.version},
                                {"name", m.name ? m.name : ""},
                                {"dialect", d},
                                {"appliedAt", appliedAt(p.name, m.version)}});
    }
    list.push_back(json{{"name", p.name},
                        {"version", p.version},
                        {"library", p.path},
                        {"sha256", p.sha256},
                        {"abi", std::to_string(p.abiMajor) + "." + std::to_string(p.abiMinor)},
                        {"components", components},
                        {"routes", routes},
                        {"migrations", migrations}});
  }
  json framework = json::array();
  for (const auto& m : applied) {
    if (m.owner == "plexus")
      framework.push_back(json{
          {"version", m.version}, {"name", m.name}, {"appliedAt", rfc3339::format(m.appliedAtMs)}});
  }
  json out{{"plugins", list}, {"frameworkMigrations", framework}};
  if (!migrationsError.empty()) out["migrationsError"] = migrationsError;
  return jsonOk(200, out);
}

}  // namespace plexus::admin
