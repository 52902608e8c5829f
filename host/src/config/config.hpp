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

// Bearer-token (JWT) validation for requests whose path starts with `prefix` (http.auth).
struct AuthGroup {
  std::string prefix;                       // "/" or a path prefix ending at a segment boundary
  std::string issuer;                       // required `iss`
  std::string audience;                     // required member of `aud`
  std::vector<std::string> algorithms;      // subset of HS256, RS256
  std::string hs256Secret;                  // required with HS256 (at least 32 bytes)
  std::string rs256PublicKeyFile;           // required with RS256
  std::string rs256PublicKeyPem;            // its content, read while loading the config
  int clockSkewSeconds = 60;                // leeway for exp and nbf
  std::vector<std::string> requiredScopes;  // all must be in `scope` (or `scp`), else 403
};

struct Auth {
  bool enabled = false;
  std::vector<AuthGroup> groups;  // longest matching prefix wins
};

// Request limits (http.limits). Rate limiting is off while ratePerSecond is 0.
struct Limits {
  int maxHeaders = 64;             // more header fields: 431 (Poco itself refuses > 100 with 400)
  int ratePerSecond = 0;           // per client; 0 = no rate limit
  int burst = 0;                   // bucket size; 0 = same as ratePerSecond
  int maxClients = 10000;          // bound of the client table (least recently seen evicted)
  bool trustForwardedFor = false;  // key by the last X-Forwarded-For entry (behind one proxy)
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
  Auth auth;
  Limits limits;
};

struct Store {
  std::string kind;  // "sqlite" | "postgres"; empty = no store
  std::string url;
  std::string schema;
  int poolSize = 16;
};

// TLS for amqps:// URLs (transport.tls). Peer and hostname verification are on by default.
struct TransportTls {
  std::string caFile;    // trusted CA bundle (PEM); empty = the system's default store
  std::string certFile;  // client certificate (PEM), with keyFile, for mutual TLS
  std::string keyFile;
  bool verifyPeer = true;
  bool verifyHostname = true;
};

struct Transport {
  std::string kind;  // "inproc" | "rabbitmq"; empty = inproc when a store is configured
  std::string url;
  TransportTls tls;
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
  bool pluginDirGiven = false;  // plugin_dir is in the file: the only directory plugins load from
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
