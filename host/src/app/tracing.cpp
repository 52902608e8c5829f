#include "app/tracing.hpp"

#include "config/config.hpp"
#include "observability/log.hpp"
#include "observability/otlp_exporter.hpp"
#include "observability/trace.hpp"
#include "plugin/runtime.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>

#ifndef PLEXUS_VERSION
#define PLEXUS_VERSION "0.0.0"
#endif

namespace plexus::app {

Tracing::Tracing() = default;
Tracing::~Tracing() { stop(); }

bool Tracing::configure(const config::Config& cfg, const plugin::Runtime& runtime, Metrics& metrics,
                        bool serve, std::string& error) {
  auto sampler = trace::Sampler::parse(std::getenv("OTEL_TRACES_SAMPLER"),
                                       std::getenv("OTEL_TRACES_SAMPLER_ARG"), error);
  if (!sampler) return false;
  const std::vector<trace::Attribute> defaults{{"service.version", std::string(PLEXUS_VERSION)},
                                               {"service.instance.id", runtime.instance()},
                                               {"telemetry.sdk.name", std::string("plexus")},
                                               {"telemetry.sdk.language", std::string("cpp")}};
  auto otlp = otlp::fromEnvironment([](const char* n) { return std::getenv(n); }, cfg.service,
                                    defaults, error);
  if (!error.empty()) return false;
  if (!otlp || !serve) {
    trace::configure(*sampler, nullptr);
    return true;
  }
  exporter_ = std::make_unique<otlp::Exporter>(*otlp, &metrics);
  exporter_->start();
  otlp::Exporter* e = exporter_.get();
  trace::configure(*sampler, [e](trace::SpanData&& s) { e->enqueue(std::move(s)); });
  log::write(log::Level::Info, "exporting traces",
             nlohmann::json{{"endpoint", otlp->url},
                            {"sampler", sampler->describe()},
                            {"service_name", std::get<std::string>(otlp->resource[0].value)}});
  return true;
}

void Tracing::stop() {
  if (!exporter_) return;
  trace::configure(trace::Sampler(), nullptr);
  exporter_->stop();  // exports what is queued, bounded by the export timeout
  exporter_.reset();
}

}  // namespace plexus::app
