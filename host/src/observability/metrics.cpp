#include "observability/metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <map>

namespace plexus {

namespace {
using Labels = std::map<std::string, std::string>;

const std::vector<double>& defaultBuckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return b;
}
}  // namespace

struct Metrics::Http {
  prometheus::Family<prometheus::Counter>* requests;
  prometheus::Family<prometheus::Histogram>* duration;
  prometheus::Gauge* inFlight;
};

struct Metrics::Family {
  Kind kind;
  std::string name;
  std::string help;
  std::vector<std::string> labels;
  std::vector<double> buckets;
  prometheus::Family<prometheus::Counter>* counter = nullptr;
  prometheus::Family<prometheus::Gauge>* gauge = nullptr;
  prometheus::Family<prometheus::Histogram>* histogram = nullptr;
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()), http_(std::make_unique<Http>()) {
  http_->requests = &prometheus::BuildCounter()
                         .Name("plexus_http_requests_total")
                         .Help("HTTP requests answered, by method, route template and status code.")
                         .Register(*registry_);
  http_->duration =
      &prometheus::BuildHistogram()
           .Name("plexus_http_request_duration_seconds")
           .Help("HTTP request handling time in seconds, by method and route template.")
           .Register(*registry_);
  http_->inFlight = &prometheus::BuildGauge()
                         .Name("plexus_http_requests_in_flight")
                         .Help("HTTP requests being handled right now.")
                         .Register(*registry_)
                         .Add({});
}

Metrics::~Metrics() = default;

void Metrics::httpInFlight(int delta) { http_->inFlight->Increment(delta); }

std::string Metrics::scrape() const {
  prometheus::TextSerializer serializer;
  auto families = registry_->Collect();
  std::vector<std::shared_ptr<prometheus::Collectable>> extra;
  {
    std::lock_guard<std::mutex> lock(mu_);
    extra = collectables_;
  }
  for (const auto& c : extra) {
    auto more = c->Collect();
    families.insert(families.end(), more.begin(), more.end());
  }
  return serializer.Serialize(families);
}

std::vector<Metrics::Reading> Metrics::read(const std::vector<std::string>& families) const {
  std::vector<Reading> out;
  for (const auto& family : registry_->Collect()) {
    if (std::find(families.begin(), families.end(), family.name) == families.end()) continue;
    for (const auto& m : family.metric) {
      Reading r;
      r.family = family.name;
      for (const auto& l : m.label) r.labels.emplace_back(l.name, l.value);
      switch (family.type) {
        case prometheus::MetricType::Counter:
          r.value = m.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          r.value = m.gauge.value;
          break;
        case prometheus::MetricType::Histogram:
          r.value = static_cast<double>(m.histogram.sample_count);
          r.sum = m.histogram.sample_sum;
          for (const auto& b : m.histogram.bucket)
            r.buckets.emplace_back(b.upper_bound, static_cast<double>(b.cumulative_count));
          break;
        default:
          continue;
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

void Metrics::addCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  std::lock_guard<std::mutex> lock(mu_);
  collectables_.push_back(std::move(collectable));
}

void Metrics::observeHttp(const std::string& method, const std::string& route, int status,
                          double seconds) {
  http_->requests->Add({{"method", method}, {"route", route}, {"code", std::to_string(status)}})
      .Increment();
  http_->duration->Add({{"method", method}, {"route", route}}, defaultBuckets()).Observe(seconds);
}

bool Metrics::validName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool Metrics::validLabel(const std::string& label) {
  return validName(label) && label.find(':') == std::string::npos && label.rfind("__", 0) != 0;
}

int64_t Metrics::define(Kind kind, const std::string& name, const std::string& help,
                        const std::vector<std::string>& labels, const std::vector<double>& buckets,
                        std::string& error, bool hostOwned) {
  if (!validName(name)) {
    error = "invalid metric name '" + name + "'";
    return 0;
  }
  if (!hostOwned && name.rfind("plexus_", 0) == 0) {
    error = "metric name '" + name + "' uses the reserved prefix plexus_";
    return 0;
  }
  const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
  if (kind == Kind::Counter && !total) {
    error = "counter '" + name + "' must end in _total";
    return 0;
  }
  if (kind != Kind::Counter && total) {
    error = "only counters may end in _total ('" + name + "')";
    return 0;
  }
  if (help.empty()) {
    error = "metric '" + name + "' needs a help text";
    return 0;
  }
  for (const auto& l : labels) {
    if (!validLabel(l)) {
      error = "invalid label name '" + l + "' on metric '" + name + "'";
      return 0;
    }
  }
  for (size_t i = 1; i < buckets.size(); ++i) {
    if (!(buckets[i] > buckets[i - 1])) {
      error = "histogram buckets of '" + name + "' must be strictly ascending";
      return 0;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < families_.size(); ++i) {
    const Family& f = *families_[i];
    if (f.name != name) continue;
    if (f.kind == kind && f.labels == labels) return static_cast<int64_t>(i + 1);
    error = "metric '" + name + "' is already defined with another type or labels";
    return 0;
  }
  auto f = std::make_unique<Family>();
  f->kind = kind;
  f->name = name;
  f->help = help;
  f->labels = labels;
  f->buckets = buckets.empty() ? defaultBuckets() : buckets;
  try {
    switch (kind) {
      case Kind::Counter:
        f->counter = &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
        break;
      case Kind::Gauge:
        f->gauge = &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
        break;
      case Kind::Histogram:
        f->histogram = &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
        break;
    }
  } catch (const std::exception& e) {
    error = "metric '" + name + "' rejected by the registry: " + e.what();
    return 0;
  }
  families_.push_back(std::move(f));
  return static_cast<int64_t>(families_.size());
}

bool Metrics::update(int64_t id, const std::vector<std::string>& labelValues, double value) {
  Family* f = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (id < 1 || static_cast<size_t>(id) > families_.size()) return false;
    f = families_[static_cast<size_t>(id - 1)].get();
  }
  if (labelValues.size() != f->labels.size()) return false;
  Labels labels;
  for (size_t i = 0; i < labelValues.size(); ++i) labels[f->labels[i]] = labelValues[i];
  switch (f->kind) {
    case Kind::Counter:
      if (!(value >= 0)) return false;
      f->counter->Add(labels).Increment(value);
      return true;
    case Kind::Gauge:
      f->gauge->Add(labels).Set(value);
      return true;
    case Kind::Histogram:
      f->histogram->Add(labels, f->buckets).Observe(value);
      return true;
  }
  return false;
}

}  // namespace plexus
