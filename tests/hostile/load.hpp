#pragma once
// The hostile tier's load generators, written for it (loopback only, every loop bounded in count
// and time): slow clients that trickle heads or bodies, a connection flood, a latency meter, and
// /proc readings of a process. Clients spread over 127.0.0.0/8 addresses so one test can be many
// clients of the per-client connection cap.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace plexus::hostile {

// "127.0.0.<first>" .. for `count` addresses.
std::vector<std::string> loopbackAddresses(int first, int count);

// Raises this process's soft descriptor limit to the hard one; returns it.
int64_t raiseDescriptorLimit();

// Readings of /proc/<pid>.
struct ProcStats {
  int64_t rssKiB = 0;
  int64_t hwmKiB = 0;  // peak RSS so far
  int threads = 0;
  int fds = 0;
};
ProcStats procStats(pid_t pid);

// Connections that send a request one byte at a time, never finishing it: the head (`body`
// false: the head never ends) or, after a whole head, a body of 1 MB. A connection the server
// closes is reopened until stop(), at most `reopenLimit` times in all.
class SlowClients {
 public:
  struct Options {
    int port = 0;
    int connections = 500;
    std::vector<std::string> from{"127.0.0.2"};
    bool body = false;
    int byteIntervalMs = 1000;  // per connection
    int reopenLimit = 20000;
  };
  struct Stats {
    int open = 0;         // right now
    uint64_t opened = 0;  // connections made
    uint64_t cutOff = 0;  // closed by the server
    uint64_t answered408 = 0;
    uint64_t refused503 = 0;  // refused at accept
    uint64_t bytesSent = 0;
  };

  explicit SlowClients(Options options);
  ~SlowClients();
  void start();
  void stop();
  Stats stats() const;

 private:
  void run();
  Options options_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> open_{0};
  std::atomic<uint64_t> opened_{0}, cutOff_{0}, answered408_{0}, refused503_{0}, bytesSent_{0};
};

// Opens `count` connections at once (non-blocking connects) and holds them until release().
class Flood {
 public:
  struct Result {
    int attempted = 0;
    int connected = 0;   // the TCP handshake completed
    int failed = 0;      // connect() failed or timed out
    int refused503 = 0;  // the host answered 503 (connection cap) and closed
    int closed = 0;      // closed or reset without an answer
    int held = 0;        // still open after the settle time
    double connectSeconds = 0;
  };
  Flood(int port, int count, std::vector<std::string> from);
  ~Flood();
  // Connects everything (bounded by `timeoutMs`), then watches `settleMs` for refusals.
  Result open(int timeoutMs, int settleMs);
  void release();  // closes every connection

 private:
  int port_;
  int count_;
  std::vector<std::string> from_;
  std::vector<int> fds_;
};

// Latency of one request repeated over keep-alive connections by `clients` threads, each sending
// `requestsPerClient` requests or stopping after `maxMs`.
struct Latency {
  int requests = 0;
  int errors = 0;                             // connection failures or non-2xx answers
  double p50 = 0, p90 = 0, p99 = 0, max = 0;  // milliseconds
  std::vector<double> samples;
};
Latency measure(int port, const std::string& request, int clients, int requestsPerClient,
                int maxMs = 600000, const std::string& from = "127.0.0.1");

// A POST /api/orders body: one line of `product` for `customer`, paid by card.
std::string orderJson(const std::string& customer, const std::string& product, double unitPrice);

// The q-quantile (0..1) of `values` (sorted in place).
double quantile(std::vector<double>& values, double q);

}  // namespace plexus::hostile
