#pragma once
// The host configuration: one JSON file per deployment (DESIGN.md §3), snake_case keys,
// ${VAR} / ${VAR:-default} expanded inside string values, unknown keys refused.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::config {

// A problem in a config file: which file, where in the document (JSON pointer), and what.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, std::string path, const std::string& message)
      : std::runtime_error(file + ": " + (path.empty() ? "/" : path) + ": " + message),
        file_(std::move(file)),
        path_(std::move(path)) {}
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  std::string file_;
  std::string path_;
};

struct Http {
  std::string host = "0.0.0.0";
  int port = 8080;
  int threads = 64;                // Poco's default is 16
  int queue = 1024;                // Poco's default is 64
  int64_t maxBodyBytes = 1 << 20;  // 1 MiB
  int keepAliveSeconds = 10;
  int shutdownDelayMs = 1000;  // keep answering (ready = 503) before closing the listener
  int drainSeconds = 20;       // then wait this long at most for in-flight requests
};

struct Store {
  std::string kind;  // "sqlite" | "postgres"; empty = no store
  std::string url;
  std::string schema;
  int poolSize = 16;
};

struct Transport {
  std::string kind;  // "inproc" | "rabbitmq"; empty = inproc when a store is configured
  std::string url;
  int workers = 2;            // concurrent handler executions
  int maxAttempts = 5;        // then the message is dead-lettered
  int retryInitialMs = 200;   // first retry delay, doubled per attempt
  int retryMaxMs = 60000;     // cap of the retry delay
  int pollIntervalMs = 1000;  // fallback polling when no commit wakes the relay
  int stallSeconds = 60;      // outbox older than this: readiness reports "degraded"
  int partitions = 4;         // rabbitmq: partition queues per deployment (per-stream order)
  int prefetch = 64;          // rabbitmq: unacked messages per consumer
  int retentionHours = 168;   // published outbox and processed inbox rows are purged after this
};

struct Plugin {
  std::string library;                  // as written in the config
  std::string path;                     // resolved path
  std::optional<std::string> sha256;    // lowercase hex pin
  std::vector<std::string> components;  // empty = every component of the plugin
  nlohmann::json config = nlohmann::json::object();
  size_t index = 0;  // position in /plugins, for error paths
};

struct Config {
  std::string file;
  std::string service;
  Http http;
  Store store;
  Transport transport;
  std::string pluginDir;
  std::vector<Plugin> plugins;
  std::string logLevel = "info";
};

// Environment lookup; the default reads the process environment.
using Env = std::function<std::optional<std::string>(const std::string&)>;
Env processEnv();

// Expands ${VAR} and ${VAR:-default} in `text`; `$$` is a literal `$`. Throws std::invalid_argument
// naming the variable when one without a default is unset.
std::string expand(const std::string& text, const Env& env);

// Parses and validates. `file` is used in messages and to resolve nothing (relative paths resolve
// against the working directory, DESIGN.md §3).
Config parse(const std::string& text, const std::string& file, const Env& env = processEnv());
Config load(const std::string& file, const Env& env = processEnv());

}  // namespace plexus::config
