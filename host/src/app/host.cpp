#include "app/host.hpp"

#include "admin/flow_sampler.hpp"
#include "base/clock.hpp"
#include "dispatch/dispatcher.hpp"
#include "http/admin.hpp"
#include "http/server.hpp"
#include "observability/log.hpp"
#include "observability/process_metrics.hpp"
#include "plugin/migrations.hpp"
#include "plugin/reload.hpp"
#include "rebuild/service.hpp"
#include "store/migrations.hpp"
#include "transport/registry.hpp"

#include <nlohmann/json.hpp>

#include <Poco/Exception.h>

#include <map>

#ifndef PLEXUS_VERSION
#define PLEXUS_VERSION "0.0.0"
#endif

namespace plexus::app {
namespace {

using nlohmann::json;

// The migrations of the loaded plugins for the store's dialect.
std::vector<store::Migration> pluginMigrations(const plugin::Runtime& runtime,
                                               const store::Dialect& dialect) {
  return plugin::migrationsOf(runtime.plugins(), dialect);
}

dispatch::Options dispatchOptions(const config::Transport& t, const std::string& instance) {
  dispatch::Options o;
  o.workers = t.workers;
  o.maxAttempts = t.maxAttempts;
  o.retryInitialMs = t.retryInitialMs;
  o.retryMaxMs = t.retryMaxMs;
  o.pollIntervalMs = t.pollIntervalMs;
  o.retentionMs = int64_t{t.retentionHours} * 3600 * 1000;
  o.keepPublishedMs = int64_t{t.keepPublishedHours} * 3600 * 1000;
  o.instance = instance;
  return o;
}

}  // namespace

Host::Host(config::Config config, std::string configFile)
    : config_(std::move(config)), configFile_(std::move(configFile)), runtime_(metrics_) {}

Host::~Host() { stop(); }

void Host::load(bool serve) {
  try {
    runtime_.start(config_);
  } catch (const plugin::PluginError& e) {
    log::write(log::Level::Error, "plugin refused",
               json{{"path", e.path()}, {"reason", e.reason()}});
    throw StartError(kExitConfig, e.what());
  }
  std::vector<std::pair<std::string, std::string>> versions;
  for (const auto& p : runtime_.plugins()) versions.emplace_back(p->name, p->version);
  process::registerMetrics(
      metrics_, PLEXUS_VERSION,
      std::to_string(PLEXUS_ABI_MAJOR) + "." + std::to_string(PLEXUS_ABI_MINOR), versions);
  std::string error;
  if (!tracing_.configure(config_, runtime_, metrics_, serve, error))
    throw StartError(kExitConfig, "invalid environment: " + error);
}

std::string Host::validate() {
  try {
    http::Server check(config_, runtime_, metrics_);  // route templates and collisions
  } catch (const std::exception& e) {
    throw StartError(kExitConfig, e.what());
  }
  std::string out;
  if (!config_.store.kind.empty()) {  // what migrate would do, tried and rolled back
    const auto dry = store::dryRunConfigured(
        config_.store, [&](const store::Dialect& d) { return pluginMigrations(runtime_, d); });
    if (!dry.problems.empty()) {
      std::string all;
      for (const auto& problem : dry.problems)
        all += (all.empty() ? "" : "\nplexus-host: ") + problem;
      throw StartError(kExitConfig, all);
    }
    out = "migrations: " +
          (dry.ran ? std::to_string(dry.pending) + " pending, dry run passed (rolled back)"
                   : "not checked (" + dry.skipped + ")") +
          "\nplexus-host: ";
  }
  return out + configFile_ + " is valid: " + std::to_string(runtime_.plugins().size()) +
         " plugin(s), " + std::to_string(runtime_.componentCount()) + " component(s), " +
         std::to_string(runtime_.routes().size()) + " route(s)";
}

std::string Host::migrate() {
  if (config_.store.kind.empty())
    throw StartError(kExitConfig,
                     "migrate: " + configFile_ + " has no \"store\"; nothing to migrate");
  try {
    auto db = store::Store::open(config_.store, 2);
    const auto report = store::migrate(*db, pluginMigrations(runtime_, db->dialect()));
    return "migrate: " + std::to_string(report.applied) + " applied, " +
           std::to_string(report.alreadyApplied) + " already applied" +
           (config_.store.schema.empty() ? "" : " (schema " + config_.store.schema + ")");
  } catch (const store::MigrationError& e) {
    throw StartError(kExitConfig, std::string("migrate refused: ") + e.what());
  } catch (const std::exception& e) {
    throw StartError(kExitUnavailable, std::string("migrate failed: ") + e.what());
  }
}

// With SQLite (embedded) the host migrates at start; with PostgreSQL `migrate` is a separate step
// and an unmigrated host stays not ready. An unreachable PostgreSQL is not fatal either: the
// host serves /health and stays not ready.
void Host::openStore() {
  try {
    store_ = store::Store::open(config_.store, config_.store.poolSize);
  } catch (const std::exception& e) {
    throw StartError(kExitUnavailable, std::string("cannot open the store: ") + e.what());
  }
  try {
    const auto migrations = pluginMigrations(runtime_, store_->dialect());
    if (std::string(store_->dialect().name()) == "sqlite") {
      const auto report = store::migrate(*store_, migrations);
      log::write(log::Level::Info, "migrations applied",
                 json{{"applied", report.applied}, {"already_applied", report.alreadyApplied}});
      return;
    }
    const auto pending = store::pendingMigrations(*store_, migrations);
    if (!pending.empty()) {
      migrated_ = false;
      log::write(log::Level::Error,
                 "not ready: migrations missing; run plexus-host migrate --config " + configFile_,
                 json{{"pending", pending}});
    }
  } catch (const store::MigrationError& e) {
    throw StartError(kExitConfig, e.what());
  } catch (const std::exception& e) {
    migrated_ = false;
    log::write(log::Level::Error, "not ready: store check failed", json{{"error", e.what()}});
  }
}

void Host::start() {
  if (!config_.store.kind.empty()) {
    openStore();
    dispatch::HandlerTable handlers(runtime_);
    transport::registerBuiltinTransports();
    try {
      transport_ = transport::create(config_, {handlers.eventTypes(), handlers.commandTypes()});
      if (transport_) {
        transport_->verify();  // a queue of the other type stops the start here, named
        transport_->attachMetrics(metrics_);
      }
    } catch (const std::invalid_argument& e) {
      throw StartError(kExitConfig, e.what());
    }
    dispatcher_ = std::make_unique<dispatch::Dispatcher>(
        runtime_, *store_, metrics_, dispatchOptions(config_.transport, runtime_.instance()),
        transport_.get(), systemClock());
    dispatch::Dispatcher* d = dispatcher_.get();
    runtime_.attachStore(store_.get(), [d] { d->wake(); });
    rebuilds_ =
        std::make_unique<rebuild::Service>(config_, *store_, runtime_, metrics_, systemClock());
  }
  startFlowSampler();
  reloader_ = std::make_unique<plugin::Reloader>(runtime_, metrics_, config_, store_.get(),
                                                 config_.reload.drainTimeoutSeconds * 1000);
  try {
    auto server = std::make_unique<http::Server>(config_, runtime_, metrics_);
    server->attach(store_.get(), dispatcher_.get(), &migrated_);
    server->admin().attachFlow(flow_.get());
    server->admin().attachReloader(reloader_.get());
    server->admin().attachRebuilds(rebuilds_.get());
    if (transport_) {
      transport::Transport* t = transport_.get();
      server->attachTransportState([t] { return t->state(); },
                                   [t] {
                                     std::map<std::string, std::string> nodes;
                                     for (const auto& c : t->connections()) nodes[c.role] = c.node;
                                     return nodes;
                                   });
    }
    server->start();
    server_ = std::move(server);
  } catch (const Poco::Exception& e) {
    log::write(log::Level::Error, "cannot serve", json{{"error", e.displayText()}});
    throw StartError(kExitUnavailable, "cannot serve on " + config_.http.host + ":" +
                                           std::to_string(config_.http.port) + ": " +
                                           e.displayText());
  } catch (const std::exception& e) {
    throw StartError(kExitConfig, e.what());
  }
  if (dispatcher_) startDispatch();
}

// The console's flow charts: the host's own metrics sampled into a ring buffer.
void Host::startFlowSampler() {
  flow_ = std::make_unique<admin::FlowSampler>(metrics_, config_.console.sampleSeconds,
                                               config_.console.historyMinutes,
                                               [] { return systemClock().nowMs(); });
  if (dispatcher_) {
    dispatch::Dispatcher* d = dispatcher_.get();
    flow_->setRefresh([d] {
      try {
        d->outbox().read();  // brings the outbox gauges up to date
      } catch (const std::exception&) {
        // store unreachable or not migrated yet: readiness reports it
      }
    });
  }
  flow_->start();
}

void Host::startDispatch() {
  if (migrated_) {
    dispatcher_->start();
    rebuilds_->start();
    return;
  }
  // Wait for `migrate` (a Job, another replica) and start consuming once the schema is there.
  watch_ = std::make_unique<MigrationWatch>(*store_, pluginMigrations(runtime_, store_->dialect()),
                                            [this] {
                                              migrated_ = true;
                                              dispatcher_->start();
                                              rebuilds_->start();
                                            });
  watch_->start();
}

bool Host::stop() {
  if (!server_) return true;
  const bool drained = server_->shutdown();
  if (flow_) flow_->stop();
  if (watch_) watch_->stop();
  if (rebuilds_) rebuilds_->stop();      // a running rebuild is cancelled: the old model stays
  if (dispatcher_) dispatcher_->stop();  // consumer, running handlers, outbox flush, publisher
  tracing_.stop();                       // after the last handler: its spans go out too
  server_.reset();
  return drained;
}

void Host::reloadChanged() {
  if (reloader_) reloader_->reloadChanged();
}

int Host::port() const { return server_ ? server_->port() : 0; }

int Host::managementPort() const { return server_ ? server_->managementPort() : 0; }

}  // namespace plexus::app
