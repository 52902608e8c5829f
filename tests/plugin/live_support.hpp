#pragma once
// Shared by the live-operations tests (reload, rebuild): placing a plugin file the way the docs
// say (install to a temporary name, then rename), and an order load against the `live` test
// plugin that records every answer.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
  OrderLoad(int port, int clients, int streamsPerClient, std::string readPath = "");
  ~OrderLoad();
  void stop();

  std::vector<std::vector<Answer>> answers() const;  // per client, in order
  int64_t orders() const;                            // every POST sent
  int64_t failures() const;                          // POSTs not answered 201
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
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<std::vector<Answer>> answers_;
  std::map<std::string, int64_t> seq_;
  std::atomic<int64_t> reads_{0}, readFailures_{0}, readyFailures_{0};
  std::vector<std::thread> threads_;
};

// Percentile (0..100) of `ms`; 0 when empty.
double percentile(std::vector<double> ms, double p);

}  // namespace plexus::test
