#pragma once
// The host's one Prometheus registry: host metrics and plugin-defined metrics, scraped on the
// host's own HTTP port at /metrics.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace prometheus {
class Collectable;
class Registry;
}  // namespace prometheus

namespace plexus {

class Metrics {
 public:
  enum class Kind { Counter = 1, Gauge = 2, Histogram = 3 };

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  prometheus::Registry& registry() { return *registry_; }

  // Prometheus text exposition format 0.0.4.
  std::string scrape() const;

  // Families computed at scrape time (process metrics read from /proc), after the registry's.
  void addCollectable(std::shared_ptr<prometheus::Collectable> collectable);

  void observeHttp(const std::string& method, const std::string& route, int status, double seconds);
  void httpInFlight(int delta);

  // Plugin metrics. `define` returns an id >= 1 (the same id when an identical family exists) or
  // 0 with `error` set. Names must be valid Prometheus names, counters end in _total, and the
  // `plexus_` prefix is reserved for the host.
  int64_t define(Kind kind, const std::string& name, const std::string& help,
                 const std::vector<std::string>& labels, const std::vector<double>& buckets,
                 std::string& error, bool hostOwned = false);
  // Counter: add (>= 0); gauge: set; histogram: observe. False on a bad id or label count.
  bool update(int64_t id, const std::vector<std::string>& labelValues, double value);

  // A point-in-time read of the named families (the console's flow sampler reads the host's own
  // metrics this way; no Prometheus server needed). No Prometheus types cross this header.
  struct Reading {
    std::string family;
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;  // counter or gauge value; for a histogram, its sample count
    double sum = 0;    // histogram: sum of the samples
    std::vector<std::pair<double, double>> buckets;  // histogram: (upper bound, cumulative count)
  };
  std::vector<Reading> read(const std::vector<std::string>& families) const;

  static bool validName(const std::string& name);
  static bool validLabel(const std::string& label);

 private:
  struct Family;
  std::shared_ptr<prometheus::Registry> registry_;
  struct Http;
  std::unique_ptr<Http> http_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

}  // namespace plexus
