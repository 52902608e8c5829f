#pragma once
// Shared by the live-operations tests (reload, rebuild): placing a plugin file the way the docs
// say (install to a temporary name, then rename), and an order load against the `live` test
// plugin that records every answer.

#include "support.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace plexus::store {
class Store;
}

namespace plexus::test {

// Copies `from` to dir/.name.tmp (mode 0644), then renames it over dir/name: the inode a running
// host may have open is never written.
void installFile(const std::string& from, const std::string& dir, const std::string& name);

// Writes `bytes` into an existing file in place (truncate and write, keeping the inode): what
// `printf ... > file` and a plain `cp` do.
void overwriteInPlace(const std::string& path, const std::string& bytes);

// POST /api/live/orders from `clients` threads, each on streams of its own with increasing seq,
// and (optionally) GET `readPath` and /health/ready from one more thread, until stop().
class OrderLoad {
 public:
  struct Answer {
    int status = 0;
    std::string version;  // "version" of a 201 answer
    bool receipt = false;
    double ms = 0;
    int64_t startedUs = 0;  // since the load started
  };
  // Order ids are `prefix` + stream + "-" + seq (two loads on one host need different prefixes).
  OrderLoad(int port, int clients, int streamsPerClient, std::string readPath = "",
            std::string prefix = "");
  ~OrderLoad();
  void stop();

  std::vector<std::vector<Answer>> answers() const;  // per client, in order
  int64_t orders() const;                            // every POST sent
  int64_t failures() const;                          // POSTs not answered 201
  std::string statuses() const;                      // "201 x N, 503 x M" (for messages)
  int64_t readFailures() const;                      // reads not answered 200 (and not 404)
  int64_t readyFailures() const;                     // /health/ready not 200
  int64_t reads() const { return reads_.load(); }
  // The streams and how many orders each got (seq 1..n).
  std::map<std::string, int64_t> streams() const;
  static std::string stream(int client, int k);

 private:
  void client(int i);
  void reader();
  int port_;
  int streamsPerClient_;
  std::string readPath_;
  std::string prefix_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<std::vector<Answer>> answers_;
  std::map<std::string, int64_t> seq_;
  std::atomic<int64_t> reads_{0}, readFailures_{0}, readyFailures_{0};
  std::vector<std::thread> threads_;
};

// A host serving the `live` test plugin from a directory of its own: embedded (SQLite, in-process
// bus) by default; on the PostgreSQL of scripts/services (a schema of its own, migrated first)
// and with its RabbitMQ when asked.
struct LiveHostOptions {
  std::string service = "live-test";
  std::string first = "live_v1";  // the test plugin installed before the start
  bool postgres = false;
  bool broker = false;
  std::string schema;                               // postgres: default live_<pid>_<n>
  std::vector<std::string> components;              // the plugin's components filter (empty: all)
  int graceSeconds = 600;                           // rebuild.grace_period_seconds
  nlohmann::json extra = nlohmann::json::object();  // merged into the config's top level
};

class LiveHost {
 public:
  explicit LiveHost(LiveHostOptions options = {});
  ~LiveHost();
  int port() const { return host->port(); }
  std::string config() const { return dir.file("host.json"); }
  const LiveHostOptions& options() const { return options_; }
  void writeConfig(const std::string& sha256) const;
  void install(const std::string& testPluginName) const;
  HttpResult reload() const;
  nlohmann::json place(const std::string& id, const std::string& stream = "s") const;
  nlohmann::json stats() const;
  // POST /admin/rebuilds; the started record (status 202 expected).
  HttpResult rebuild(const std::string& component, const nlohmann::json& tables = nullptr) const;
  // The rebuild's record once it is in one of `states` (bounded wait); null on timeout.
  nlohmann::json waitRebuild(const std::string& id, const std::vector<std::string>& states,
                             int timeoutMs = 120000) const;
  // The deployment's store, for checks the API does not show (tables that exist).
  std::unique_ptr<store::Store> openStore() const;
  // What a rebuild may leave behind: shadow and retired schemas (PostgreSQL), shadow files and
  // retired tables (SQLite). Empty once every rebuild switched and dropped, or failed.
  std::vector<std::string> leftovers() const;
  void restart();

  TempDir dir;
  std::unique_ptr<HostProcess> host;

 private:
  LiveHostOptions options_;
};

// Percentile (0..100) of `ms`; 0 when empty.
double percentile(std::vector<double> ms, double p);

}  // namespace plexus::test
