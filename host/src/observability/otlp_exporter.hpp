#pragma once
// OTLP/HTTP trace export with the JSON encoding (opentelemetry-proto, ExportTraceServiceRequest).
// Spans go into a bounded queue; a background thread posts them in batches. A full queue drops the
// span and counts it: a handler or request never waits for the collector.

#include "observability/trace.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace plexus {
class Metrics;
}

namespace plexus::otlp {

struct Config {
  std::string url;  // the full traces URL, e.g. http://collector:4318/v1/traces
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<trace::Attribute> resource;  // service.name first
  size_t maxQueue = 2048;                  // OTEL_BSP_MAX_QUEUE_SIZE
  size_t maxBatch = 512;                   // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  int scheduleDelayMs = 5000;              // OTEL_BSP_SCHEDULE_DELAY
  int timeoutMs = 10000;                   // OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT
};

using Getenv = std::function<const char*(const char*)>;

// Reads the standard OTEL_* variables. Returns nullopt with an empty `error` when export is off
// (no endpoint, OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none), and nullopt with `error`
// set for a bad value. `service` is the default service.name; `defaults` are resource attributes
// the variables may override (service.instance.id, service.version, ...).
std::optional<Config> fromEnvironment(const Getenv& getenv, const std::string& service,
                                      const std::vector<trace::Attribute>& defaults,
                                      std::string& error);

// "k1=v1,k2=v2" with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS).
bool parseKeyValues(const std::string& text, std::vector<std::pair<std::string, std::string>>& out,
                    std::string& error);

// The request body for one batch.
std::string encode(const std::vector<trace::SpanData>& spans,
                   const std::vector<trace::Attribute>& resource);

class Exporter {
 public:
  // `metrics` (may be null) gets plexus_trace_spans_exported_total and
  // plexus_trace_spans_dropped_total{reason}.
  Exporter(Config config, Metrics* metrics);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  void start();
  // Never blocks on the network; false when the span was dropped (queue full or stopped).
  bool enqueue(trace::SpanData&& span);
  // Exports what is queued (bounded by the export timeout), then stops the thread.
  void stop();

  uint64_t exported() const { return exported_.load(); }
  uint64_t dropped() const { return dropped_.load(); }
  const Config& config() const { return config_; }

 private:
  void loop();
  bool post(const std::string& body, std::string& error);
  void countDropped(const char* reason, size_t n);

  Config config_;
  Metrics* metrics_;
  int64_t exportedMetric_ = 0, droppedMetric_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<trace::SpanData> queue_;
  bool stopping_ = false;
  bool flushNow_ = false;
  std::thread thread_;
  std::atomic<uint64_t> exported_{0}, dropped_{0};
  std::string lastError_;  // exporter thread only: log a failure once until it changes
};

}  // namespace plexus::otlp
