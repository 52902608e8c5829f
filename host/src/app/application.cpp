#include "app/application.hpp"

#include "config/config.hpp"
#include "dispatch/bus.hpp"
#include "http/server.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "observability/otlp_exporter.hpp"
#include "observability/process_metrics.hpp"
#include "observability/trace.hpp"
#include "plugin/loader.hpp"
#include "plugin/runtime.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"
#include "transport/rabbitmq.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <thread>

#ifndef PLEXUS_VERSION
#define PLEXUS_VERSION "0.0.0"
#endif

namespace plexus::app {

namespace {
// sysexits.h values: scripts can tell a usage error from a bad config.
constexpr int kExitUsage = 64;
constexpr int kExitConfig = 78;
constexpr int kExitUnavailable = 69;

// The migrations of the loaded plugins for the store's dialect.
std::vector<store::Migration> pluginMigrations(const plugin::Runtime& runtime,
                                               store::Dialect dialect) {
  const std::string d = dialect == store::Dialect::Postgres ? "postgresql" : "sqlite";
  std::vector<store::Migration> out;
  for (const auto& p : runtime.plugins()) {
    for (const auto& m : p->migrations) {
      if (std::string(m.dialect) == d || std::string(m.dialect) == "any") {
        out.push_back(store::Migration{p->name, m.version, m.name ? m.name : "", m.sql});
      }
    }
  }
  return out;
}

// Traces (docs/observability.md): the sampler and the OTLP exporter from the OTEL_* variables.
// Installed for the life of `run`; the destructor detaches the tracer before the exporter stops.
class Tracing {
 public:
  Tracing() = default;
  Tracing(const Tracing&) = delete;
  Tracing& operator=(const Tracing&) = delete;
  ~Tracing() { stop(); }

  // False with `error` set for a bad OTEL_* value.
  bool configure(const config::Config& cfg, const plugin::Runtime& runtime, Metrics& metrics,
                 bool serve, std::string& error) {
    auto sampler = trace::Sampler::parse(std::getenv("OTEL_TRACES_SAMPLER"),
                                         std::getenv("OTEL_TRACES_SAMPLER_ARG"), error);
    if (!sampler) return false;
    const std::vector<trace::Attribute> defaults{{"service.version", std::string(PLEXUS_VERSION)},
                                                 {"service.instance.id", runtime.instance()},
                                                 {"telemetry.sdk.name", std::string("plexus")},
                                                 {"telemetry.sdk.language", std::string("cpp")}};
    auto otlp = otlp::fromEnvironment([](const char* n) { return std::getenv(n); }, cfg.service,
                                      defaults, error);
    if (!error.empty()) return false;
    if (!otlp || !serve) {
      trace::configure(*sampler, nullptr);
      return true;
    }
    exporter_ = std::make_unique<otlp::Exporter>(*otlp, &metrics);
    exporter_->start();
    otlp::Exporter* e = exporter_.get();
    trace::configure(*sampler, [e](trace::SpanData&& s) { e->enqueue(std::move(s)); });
    log::write(log::Level::Info, "exporting traces",
               nlohmann::json{{"endpoint", otlp->url},
                              {"sampler", sampler->describe()},
                              {"service_name", std::get<std::string>(otlp->resource[0].value)}});
    return true;
  }

  void stop() {
    if (!exporter_) return;
    trace::configure(trace::Sampler(), nullptr);
    exporter_->stop();  // exports what is queued, bounded by the export timeout
    exporter_.reset();
  }

 private:
  std::unique_ptr<otlp::Exporter> exporter_;
};

dispatch::Options busOptions(const config::Transport& t) {
  dispatch::Options o;
  o.workers = t.workers;
  o.maxAttempts = t.maxAttempts;
  o.retryInitialMs = t.retryInitialMs;
  o.retryMaxMs = t.retryMaxMs;
  o.pollIntervalMs = t.pollIntervalMs;
  o.retentionMs = int64_t{t.retentionHours} * 3600 * 1000;
  return o;
}
}  // namespace

HostApplication::HostApplication() { setUnixOptions(true); }

void HostApplication::defineOptions(Poco::Util::OptionSet& options) {
  ServerApplication::defineOptions(options);
  options.addOption(Poco::Util::Option("config", "c", "host configuration file (JSON)")
                        .argument("FILE")
                        .repeatable(false));
  options.addOption(
      Poco::Util::Option("port", "p", "port for `probe` (default: PLEXUS_HTTP_PORT or 8080)")
          .argument("N"));
  options.addOption(Poco::Util::Option("version", "v", "print the version and exit"));
  options.addOption(Poco::Util::Option("help", "h", "print this help and exit"));
}

void HostApplication::handleOption(const std::string& name, const std::string& value) {
  ServerApplication::handleOption(name, value);
  if (name == "config") {
    configFile_ = value;
  } else if (name == "port") {
    try {
      probePort_ = std::stoi(value);
    } catch (const std::exception&) {
      probePort_ = -1;
    }
  } else if (name == "version") {
    std::cout << "plexus-host " << PLEXUS_VERSION << " (plugin ABI " << PLEXUS_ABI_MAJOR << "."
              << PLEXUS_ABI_MINOR << ")\n";
    exitEarly_ = true;
    stopOptionsProcessing();
  } else if (name == "help") {
    printHelp();
    exitEarly_ = true;
    stopOptionsProcessing();
  }
}

void HostApplication::printHelp() {
  std::cout
      << "plexus-host " << PLEXUS_VERSION << " - event-driven plugin service host\n\n"
      << "usage:\n"
      << "  plexus-host [run] --config FILE    serve: load the plugins and answer HTTP until "
         "SIGTERM\n"
      << "  plexus-host check --config FILE    validate the config and load every plugin, then "
         "exit\n"
      << "  plexus-host migrate --config FILE  apply framework and plugin migrations, then exit\n"
      << "  plexus-host probe [--port N]       exit 0 when the local /health answers 200\n"
      << "  plexus-host --version | --help\n\n"
      << "exit codes: 0 ok, 1 probe failed, 64 usage, 69 unavailable, 70 internal, 78 bad config "
         "or plugin\n";
}

int HostApplication::main(const std::vector<std::string>& args) {
  if (exitEarly_) return EXIT_OK;
  const std::string command = args.empty() ? "run" : args[0];
  if (args.size() > 1) {
    std::cerr << "plexus-host: unexpected argument '" << args[1] << "' (see --help)\n";
    return kExitUsage;
  }
  if (command == "probe") return probe();
  if (command != "run" && command != "check" && command != "migrate") {
    std::cerr << "plexus-host: unknown command '" << command << "' (see --help)\n";
    return kExitUsage;
  }
  if (configFile_.empty()) {
    std::cerr << "plexus-host: " << command << " needs --config FILE\n";
    return kExitUsage;
  }
  if (command == "migrate") return migrate();
  return start(command == "run");
}

int HostApplication::start(bool serve) {
  config::Config cfg;
  try {
    cfg = config::load(configFile_);
  } catch (const config::ConfigError& e) {
    std::cerr << "plexus-host: invalid config: " << e.what() << "\n";
    return kExitConfig;
  }
  log::setService(cfg.service);
  log::Level level = log::Level::Info;
  log::parseLevel(cfg.logLevel, level);
  log::setLevel(level);

  Metrics metrics;
  plugin::Runtime runtime(metrics);
  try {
    runtime.start(cfg);
  } catch (const plugin::PluginError& e) {
    log::write(log::Level::Error, "plugin refused",
               nlohmann::json{{"path", e.path()}, {"reason", e.reason()}});
    std::cerr << "plexus-host: " << e.what() << "\n";
    return kExitConfig;
  }
  std::vector<std::pair<std::string, std::string>> pluginVersions;
  for (const auto& p : runtime.plugins()) pluginVersions.emplace_back(p->name, p->version);
  process::registerMetrics(
      metrics, PLEXUS_VERSION,
      std::to_string(PLEXUS_ABI_MAJOR) + "." + std::to_string(PLEXUS_ABI_MINOR), pluginVersions);
  Tracing tracing;
  {
    std::string error;
    if (!tracing.configure(cfg, runtime, metrics, serve, error)) {
      std::cerr << "plexus-host: invalid environment: " << error << "\n";
      return kExitConfig;
    }
  }
  if (!serve) {
    try {
      http::Server validate(cfg, runtime, metrics);  // route templates and collisions
    } catch (const std::exception& e) {
      std::cerr << "plexus-host: " << e.what() << "\n";
      return kExitConfig;
    }
    if (!cfg.store.kind.empty()) {  // what migrate would do, tried and rolled back
      const auto dry = store::dryRunConfigured(
          cfg.store, [&](store::Dialect d) { return pluginMigrations(runtime, d); });
      for (const auto& problem : dry.problems) std::cerr << "plexus-host: " << problem << "\n";
      if (!dry.problems.empty()) return kExitConfig;
      std::cout << "plexus-host: migrations: "
                << (dry.ran ? std::to_string(dry.pending) + " pending, dry run passed (rolled back)"
                            : "not checked (" + dry.skipped + ")")
                << "\n";
    }
    std::cout << "plexus-host: " << configFile_ << " is valid: " << runtime.plugins().size()
              << " plugin(s), " << runtime.componentCount() << " component(s), "
              << runtime.routes().size() << " route(s)\n";
    return EXIT_OK;
  }

  // The durable runtime: store, migrations, in-process bus.
  std::unique_ptr<store::Store> db;
  std::unique_ptr<transport::RabbitTransport> rabbit;  // outlives the bus that publishes through it
  std::unique_ptr<dispatch::Bus> bus;
  std::atomic<bool> migrated{true};
  std::thread migrationWatch;
  std::mutex watchMu;
  std::condition_variable watchCv;
  bool stopWatch = false;
  if (!cfg.store.kind.empty()) {
    try {
      db = store::Store::open(cfg.store, cfg.store.poolSize);
      const auto migrations = pluginMigrations(runtime, db->dialect());
      if (db->dialect() == store::Dialect::Sqlite) {
        const auto report = store::migrate(*db, migrations);  // embedded: migrate at start
        log::write(log::Level::Info, "migrations applied",
                   nlohmann::json{{"applied", report.applied},
                                  {"already_applied", report.alreadyApplied}});
      } else if (!store::pendingMigrations(*db, migrations).empty()) {
        migrated = false;
        log::write(log::Level::Error,
                   "not ready: migrations missing; run plexus-host migrate --config " + configFile_,
                   nlohmann::json{{"pending", store::pendingMigrations(*db, migrations)}});
      }
    } catch (const store::MigrationError& e) {
      std::cerr << "plexus-host: " << e.what() << "\n";
      return kExitConfig;
    } catch (const std::exception& e) {
      // An unreachable PostgreSQL is not fatal: the host serves /health and stays not-ready.
      if (!db) {
        std::cerr << "plexus-host: cannot open the store: " << e.what() << "\n";
        return kExitUnavailable;
      }
      migrated = false;
      log::write(log::Level::Error, "not ready: store check failed",
                 nlohmann::json{{"error", e.what()}});
    }
    dispatch::Options options = busOptions(cfg.transport);
    options.instance = runtime.instance();
    bus = std::make_unique<dispatch::Bus>(runtime, *db, metrics, options);
    dispatch::Bus* b = bus.get();
    runtime.attachStore(db.get(), [b] { b->wake(); });
    if (cfg.transport.kind == "rabbitmq") {
      // Bindings: everything a receptor registers may arrive as a command or an event; perspectives
      // only take events.
      std::set<std::string> events, commands;
      for (const auto& c : runtime.components()) {
        for (const auto& t : c->types) {
          if (c->kind == plugin::Kind::Receptor) commands.insert(t);
          if (c->kind != plugin::Kind::Route) events.insert(t);
        }
      }
      transport::RabbitOptions ro;
      ro.url = cfg.transport.url;
      ro.tls = {cfg.transport.tls.caFile, cfg.transport.tls.certFile, cfg.transport.tls.keyFile,
                cfg.transport.tls.verifyPeer, cfg.transport.tls.verifyHostname};
      ro.service = cfg.service;
      ro.partitions = cfg.transport.partitions;
      ro.prefetch = cfg.transport.prefetch;
      rabbit = std::make_unique<transport::RabbitTransport>(ro, *bus, events, commands);
      bus->setPublisher(rabbit.get());
    }
  }

  try {
    http::Server server(cfg, runtime, metrics);
    server.attach(db.get(), bus.get(), &migrated);
    if (rabbit) {
      transport::RabbitTransport* r = rabbit.get();
      server.attachTransportState([r] { return r->state(); });
    }
    server.start();
    if (bus) {
      if (migrated) {
        bus->start();
        if (rabbit) rabbit->start();
      } else {
        // Wait for `migrate` (a Job, another replica) and start consuming once the schema is there.
        const auto migrations = pluginMigrations(runtime, db->dialect());
        migrationWatch = std::thread([&, migrations] {
          std::unique_lock<std::mutex> lock(watchMu);
          while (!stopWatch) {
            lock.unlock();
            bool ok = false;
            try {
              ok = store::pendingMigrations(*db, migrations).empty();
            } catch (const std::exception&) {
              ok = false;
            }
            lock.lock();
            if (ok && !stopWatch) {
              migrated = true;
              bus->start();
              if (rabbit) rabbit->start();
              log::write(log::Level::Info, "migrations present: ready");
              return;
            }
            watchCv.wait_for(lock, std::chrono::seconds(2), [&] { return stopWatch; });
          }
        });
      }
    }
    log::write(
        log::Level::Info, "listening",
        nlohmann::json{{"port", server.port()},
                       {"host", cfg.http.host},
                       {"plugins", runtime.plugins().size()},
                       {"routes", runtime.routes().size()},
                       {"store", cfg.store.kind.empty() ? "none" : cfg.store.kind},
                       {"transport", cfg.transport.kind.empty() ? "none" : cfg.transport.kind}});
    waitForTerminationRequest();
    log::write(log::Level::Info, "shutting down: readiness is 503, draining",
               nlohmann::json{{"delay_ms", cfg.http.shutdownDelayMs},
                              {"drain_seconds", cfg.http.drainSeconds}});
    const bool drained = server.shutdown();
    {
      std::lock_guard<std::mutex> lock(watchMu);
      stopWatch = true;
    }
    watchCv.notify_all();
    if (migrationWatch.joinable()) migrationWatch.join();
    if (rabbit) rabbit->stopConsuming();  // unacked prefetched messages go back to the queue
    if (bus) bus->stop();  // running handlers finish and commit; the rest stays stored
    if (rabbit) rabbit->stop();
    tracing.stop();  // after the last handler: its spans go out too
    log::write(log::Level::Info, "stopped", nlohmann::json{{"drained", drained}});
  } catch (const Poco::Exception& e) {
    {
      std::lock_guard<std::mutex> lock(watchMu);
      stopWatch = true;
    }
    watchCv.notify_all();
    if (migrationWatch.joinable()) migrationWatch.join();
    log::write(log::Level::Error, "cannot serve", nlohmann::json{{"error", e.displayText()}});
    std::cerr << "plexus-host: cannot serve on " << cfg.http.host << ":" << cfg.http.port << ": "
              << e.displayText() << "\n";
    return kExitUnavailable;
  } catch (const std::exception& e) {
    {
      std::lock_guard<std::mutex> lock(watchMu);
      stopWatch = true;
    }
    watchCv.notify_all();
    if (migrationWatch.joinable()) migrationWatch.join();
    std::cerr << "plexus-host: " << e.what() << "\n";
    return kExitConfig;
  }
  return EXIT_OK;
}

int HostApplication::migrate() {
  config::Config cfg;
  try {
    cfg = config::load(configFile_);
  } catch (const config::ConfigError& e) {
    std::cerr << "plexus-host: invalid config: " << e.what() << "\n";
    return kExitConfig;
  }
  log::setService(cfg.service);
  if (cfg.store.kind.empty()) {
    std::cerr << "plexus-host: migrate: " << configFile_
              << " has no \"store\"; nothing to migrate\n";
    return kExitConfig;
  }
  Metrics metrics;
  plugin::Runtime runtime(metrics);
  try {
    runtime.start(cfg);  // the plugins carry their migrations
  } catch (const plugin::PluginError& e) {
    std::cerr << "plexus-host: " << e.what() << "\n";
    return kExitConfig;
  }
  try {
    auto db = store::Store::open(cfg.store, 2);
    const auto report = store::migrate(*db, pluginMigrations(runtime, db->dialect()));
    std::cout << "plexus-host: migrate: " << report.applied << " applied, " << report.alreadyApplied
              << " already applied"
              << (cfg.store.schema.empty() ? "" : " (schema " + cfg.store.schema + ")") << "\n";
    return EXIT_OK;
  } catch (const store::MigrationError& e) {
    std::cerr << "plexus-host: migrate refused: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "plexus-host: migrate failed: " << e.what() << "\n";
    return kExitUnavailable;
  }
}

int HostApplication::probe() {
  int port = probePort_;
  if (port == 0) {
    const char* env = std::getenv("PLEXUS_HTTP_PORT");
    port = env != nullptr ? std::atoi(env) : 8080;
    if (!configFile_.empty()) {
      try {
        port = config::load(configFile_).http.port;
      } catch (const std::exception& e) {
        std::cerr << "plexus-host: probe: " << e.what() << "\n";
        return kExitConfig;
      }
    }
  }
  if (port <= 0 || port > 65535) {
    std::cerr << "plexus-host: probe: invalid port\n";
    return kExitUsage;
  }
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(2, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/health",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    session.receiveResponse(response);
    if (response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK) return EXIT_OK;
    std::cerr << "plexus-host: probe: /health answered " << response.getStatus() << "\n";
  } catch (const Poco::Exception& e) {
    std::cerr << "plexus-host: probe: " << e.displayText() << "\n";
  }
  return 1;
}

}  // namespace plexus::app
