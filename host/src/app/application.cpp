#include "app/application.hpp"

#include "app/host.hpp"
#include "app/rebuild_command.hpp"
#include "app/reload_signal.hpp"
#include "config/config.hpp"
#include "observability/log.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>

#ifndef PLEXUS_VERSION
#define PLEXUS_VERSION "0.0.0"
#endif

namespace plexus::app {

HostApplication::HostApplication() { setUnixOptions(true); }

void HostApplication::defineOptions(Poco::Util::OptionSet& options) {
  ServerApplication::defineOptions(options);
  options.addOption(Poco::Util::Option("config", "c", "host configuration file (JSON)")
                        .argument("FILE")
                        .repeatable(false));
  options.addOption(
      Poco::Util::Option("port", "p", "port for `probe` (default: PLEXUS_HTTP_PORT or 8080)")
          .argument("N"));
  options.addOption(
      Poco::Util::Option("component", "", "for `rebuild`: the perspective, PLUGIN/PERSPECTIVE")
          .argument("P/C")
          .repeatable(false));
  options.addOption(Poco::Util::Option("tables", "",
                                       "for `rebuild`: the read model's tables (a,b; default: "
                                       "the tables the replay fills)")
                        .argument("LIST")
                        .repeatable(false));
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
  } else if (name == "component") {
    component_ = value;
  } else if (name == "tables") {
    size_t from = 0;
    while (from <= value.size()) {
      const size_t comma = std::min(value.find(',', from), value.size());
      if (comma > from) tables_.push_back(value.substr(from, comma - from));
      from = comma + 1;
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
      << "  plexus-host rebuild --config FILE --component PLUGIN/PERSPECTIVE [--tables a,b]\n"
      << "                                     rebuild a read model from history beside the one\n"
      << "                                     that serves, then switch to it\n"
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
  if (command != "run" && command != "check" && command != "migrate" && command != "rebuild") {
    std::cerr << "plexus-host: unknown command '" << command << "' (see --help)\n";
    return kExitUsage;
  }
  if (configFile_.empty()) {
    std::cerr << "plexus-host: " << command << " needs --config FILE\n";
    return kExitUsage;
  }
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
  if (command == "rebuild") {
    if (component_.empty()) {
      std::cerr << "plexus-host: rebuild needs --component PLUGIN/PERSPECTIVE\n";
      return kExitUsage;
    }
    return rebuildCommand(cfg, component_, tables_);
  }
  try {
    Host host(std::move(cfg), configFile_);
    if (command == "run") return serve(host);
    host.load(false);
    std::cout << "plexus-host: " << (command == "check" ? host.validate() : host.migrate()) << "\n";
    return EXIT_OK;
  } catch (const StartError& e) {
    std::cerr << "plexus-host: " << e.what() << "\n";
    return e.code();
  }
}

int HostApplication::serve(Host& host) {
  ReloadSignal::block();  // before the first thread starts: SIGHUP must never end the host
  host.load(true);
  host.start();
  auto hangup = std::make_unique<ReloadSignal>([&host] { host.reloadChanged(); });
  const config::Config& cfg = host.config();
  // One line for both listeners: "port" is the main one, "management_port" (when configured) the
  // probes' and scrapers' one, so harnesses can tell them apart.
  nlohmann::json listening{{"port", host.port()},
                           {"host", cfg.http.host},
                           {"plugins", host.runtime().plugins().size()},
                           {"routes", host.runtime().routes().size()},
                           {"store", cfg.store.kind.empty() ? "none" : cfg.store.kind},
                           {"transport", cfg.transport.kind.empty() ? "none" : cfg.transport.kind}};
  if (host.managementPort() != 0) listening["management_port"] = host.managementPort();
  log::write(log::Level::Info, "listening", listening);
  waitForTerminationRequest();
  hangup.reset();
  log::write(log::Level::Info, "shutting down: readiness is 503, draining",
             nlohmann::json{{"delay_ms", cfg.http.shutdownDelayMs},
                            {"drain_seconds", cfg.http.drainSeconds}});
  const bool drained = host.stop();
  log::write(log::Level::Info, "stopped", nlohmann::json{{"drained", drained}});
  return EXIT_OK;
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
