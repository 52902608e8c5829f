#pragma once
// Traces (docs/observability.md): the sampler and the OTLP exporter from the OTEL_* variables,
// installed for the life of `run`; stop() detaches the tracer before the exporter drains.

#include <memory>
#include <string>

namespace plexus {
class Metrics;
}
namespace plexus::config {
struct Config;
}
namespace plexus::otlp {
class Exporter;
}
namespace plexus::plugin {
class Runtime;
}

namespace plexus::app {

class Tracing {
 public:
  Tracing();
  ~Tracing();
  Tracing(const Tracing&) = delete;
  Tracing& operator=(const Tracing&) = delete;

  // False with `error` set for a bad OTEL_* value. Without `serve` nothing is exported.
  bool configure(const config::Config& cfg, const plugin::Runtime& runtime, Metrics& metrics,
                 bool serve, std::string& error);
  void stop();

 private:
  std::unique_ptr<otlp::Exporter> exporter_;
};

}  // namespace plexus::app
