#pragma once
// The console's flow charts without a Prometheus server: every few seconds the host reads its own
// message, handler-latency, outbox and HTTP metrics into a ring buffer; /admin/flow turns
// consecutive samples into per-second rates and latency percentiles.

#include "plugin/runtime.hpp"

#include <nlohmann/json_fwd.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace plexus {
class Metrics;
}

namespace plexus::admin {

class FlowSampler {
 public:
  using Clock = std::function<int64_t()>;  // Unix ms
  // At most this many series per sample (labels are bounded by design; this bounds memory even
  // when they are not).
  static constexpr size_t kMaxSeries = 2000;

  FlowSampler(const Metrics& metrics, int sampleSeconds, int historyMinutes, Clock clock);
  ~FlowSampler();
  FlowSampler(const FlowSampler&) = delete;
  FlowSampler& operator=(const FlowSampler&) = delete;

  // Called before each sample, e.g. to bring the outbox gauges up to date.
  void setRefresh(std::function<void()> refresh) { refresh_ = std::move(refresh); }
  void start();  // samples now, then every sampleSeconds on a thread of its own
  void stop();
  void sampleNow();

  // The /admin/flow body for the last `minutes`.
  nlohmann::json series(int minutes) const;
  // Message rates over the last minute and totals since start, for /admin/overview.
  nlohmann::json summary() const;
  // GET /admin/flow[?minutes=N]
  plugin::HttpResponse handle(const plugin::HttpRequest& req, std::string& routeLabel) const;

  // Histogram quantile by linear interpolation inside the bucket (as Prometheus does); buckets
  // are (upper bound, cumulative count), +Inf last. Negative when there are no samples.
  static double quantile(double q, const std::vector<std::pair<double, double>>& buckets);

 private:
  using Buckets = std::vector<std::pair<double, double>>;
  struct Sample {
    int64_t atMs = 0;
    std::map<std::string, double> values;    // counters and gauges by series key
    std::map<std::string, Buckets> buckets;  // histograms by series key
  };

  const Metrics& metrics_;
  const int sampleSeconds_;
  const size_t capacity_;
  Clock clock_;
  std::function<void()> refresh_;
  mutable std::mutex mu_;
  std::deque<Sample> ring_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace plexus::admin
