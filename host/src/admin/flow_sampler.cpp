#include "admin/flow_sampler.hpp"

#include "admin/response.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>

namespace plexus::admin {
namespace {

using nlohmann::json;

// Series keys: fields joined by '\n' (never part of a label value the host sets).
constexpr char kSep = '\n';

const std::map<std::string, std::string> kMessageFamilies{
    {"plexus_messages_handled_total", "handled"},
    {"plexus_messages_failed_total", "failed"},
    {"plexus_messages_retried_total", "retried"},
    {"plexus_messages_dead_lettered_total", "deadLettered"}};

std::string label(const Metrics::Reading& r, const char* name) {
  for (const auto& [k, v] : r.labels)
    if (k == name) return v;
  return "";
}

std::vector<std::string> split(const std::string& key) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t nl = key.find(kSep); nl != std::string::npos; nl = key.find(kSep, at)) {
    out.push_back(key.substr(at, nl - at));
    at = nl + 1;
  }
  out.push_back(key.substr(at));
  return out;
}

std::string codeClass(const std::string& code) {
  return code.empty() ? "other" : std::string(1, code[0]) + "xx";
}

json number(double v) { return std::isfinite(v) && v >= 0 ? json(v) : json(nullptr); }

// Rounded for the wire: charts need 4 significant digits at most.
double round4(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  const double scale = std::pow(10.0, 3 - std::floor(std::log10(std::fabs(v))));
  return std::round(v * scale) / scale;
}

}  // namespace

FlowSampler::FlowSampler(const Metrics& metrics, int sampleSeconds, int historyMinutes, Clock clock)
    : metrics_(metrics),
      sampleSeconds_(sampleSeconds),
      capacity_(static_cast<size_t>(historyMinutes) * 60 / static_cast<size_t>(sampleSeconds) + 1),
      clock_(std::move(clock)) {}

FlowSampler::~FlowSampler() { stop(); }

void FlowSampler::start() {
  sampleNow();
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (
        !cv_.wait_for(lock, std::chrono::seconds(sampleSeconds_), [this] { return stopping_; })) {
      lock.unlock();
      try {
        sampleNow();
      } catch (const std::exception& e) {
        log::write(log::Level::Warn, "flow sample failed", json{{"error", e.what()}});
      }
      lock.lock();
    }
  });
}

void FlowSampler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FlowSampler::sampleNow() {
  if (refresh_) refresh_();
  std::vector<std::string> families{"plexus_handler_duration_seconds", "plexus_outbox_pending",
                                    "plexus_outbox_oldest_age_seconds",
                                    "plexus_http_requests_total",
                                    "plexus_http_request_duration_seconds"};
  for (const auto& [name, _] : kMessageFamilies) families.push_back(name);
  Sample s;
  s.atMs = clock_();
  for (const auto& r : metrics_.read(families)) {
    if (s.values.size() + s.buckets.size() >= kMaxSeries) break;
    const auto msg = kMessageFamilies.find(r.family);
    if (msg != kMessageFamilies.end()) {
      s.values[msg->second + kSep + label(r, "handler") + kSep + label(r, "type")] += r.value;
    } else if (r.family == "plexus_handler_duration_seconds") {
      s.buckets["latency" + std::string(1, kSep) + label(r, "handler")] = r.buckets;
    } else if (r.family == "plexus_outbox_pending" ||
               r.family == "plexus_outbox_oldest_age_seconds") {
      s.values[r.family] = r.value;
    } else if (r.family == "plexus_http_requests_total") {
      s.values["http" + std::string(1, kSep) + label(r, "method") + kSep + label(r, "route") +
               kSep + codeClass(label(r, "code"))] += r.value;
    } else if (r.family == "plexus_http_request_duration_seconds") {
      s.buckets["http" + std::string(1, kSep) + label(r, "method") + kSep + label(r, "route")] =
          r.buckets;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  ring_.push_back(std::move(s));
  while (ring_.size() > capacity_) ring_.pop_front();
}

double FlowSampler::quantile(double q, const Buckets& buckets) {
  if (buckets.empty() || buckets.back().second <= 0) return -1;
  const double rank = q * buckets.back().second;
  double lowerBound = 0, lowerCount = 0;
  for (const auto& [bound, count] : buckets) {
    if (count >= rank && count > lowerCount) {
      if (std::isinf(bound)) return lowerBound;  // beyond the last finite bucket
      return lowerBound + (bound - lowerBound) * (rank - lowerCount) / (count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

json FlowSampler::series(int minutes) const {
  std::vector<Sample> window;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t want = static_cast<size_t>(minutes) * 60 / static_cast<size_t>(sampleSeconds_) + 1;
    const size_t from = ring_.size() > want ? ring_.size() - want : 0;
    window.assign(ring_.begin() + static_cast<long>(from), ring_.end());
  }
  std::set<std::string> valueKeys, bucketKeys;
  for (const auto& s : window) {
    for (const auto& [k, _] : s.values) valueKeys.insert(k);
    for (const auto& [k, _] : s.buckets) bucketKeys.insert(k);
  }
  json times = json::array();
  std::map<std::string, json> rates, latest;
  std::map<std::string, std::map<std::string, json>> pcts;  // key -> p50/p95/p99 arrays
  for (size_t i = 1; i < window.size(); ++i) {
    const Sample& a = window[i - 1];
    const Sample& b = window[i];
    const double dt = std::max<double>(1, static_cast<double>(b.atMs - a.atMs)) / 1000.0;
    times.push_back(b.atMs);
    for (const auto& k : valueKeys) {
      const auto bv = b.values.find(k);
      const auto av = a.values.find(k);
      const double now = bv == b.values.end() ? 0 : bv->second;
      const double before = av == a.values.end() ? 0 : av->second;
      // Gauges are shown as they are; counters as a rate over the interval.
      const bool gauge = k.rfind("plexus_outbox", 0) == 0;
      rates[k].push_back(round4(gauge ? now : std::max(0.0, now - before) / dt));
    }
    for (const auto& k : bucketKeys) {
      const auto bb = b.buckets.find(k);
      const auto ab = a.buckets.find(k);
      Buckets delta = bb == b.buckets.end() ? Buckets{} : bb->second;
      if (ab != a.buckets.end() && ab->second.size() == delta.size()) {
        for (size_t j = 0; j < delta.size(); ++j) delta[j].second -= ab->second[j].second;
      }
      for (const auto& [name, q] :
           {std::pair<const char*, double>{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99}}) {
        pcts[k][name].push_back(number(round4(quantile(q, delta))));
      }
    }
  }
  if (!window.empty()) {
    for (const auto& [k, v] : window.back().values) latest[k] = v;
  }
  std::map<std::pair<std::string, std::string>, json> handlers;  // (handler, type)
  std::map<std::string, json> http;                              // "METHOD route"
  json out{{"intervalSeconds", sampleSeconds_},
           {"times", times},
           {"outbox", {{"pending", json::array()}, {"oldestAgeSeconds", json::array()}}}};
  for (const auto& [k, series] : rates) {
    const auto f = split(k);
    if (k == "plexus_outbox_pending") {
      out["outbox"]["pending"] = series;
    } else if (k == "plexus_outbox_oldest_age_seconds") {
      out["outbox"]["oldestAgeSeconds"] = series;
    } else if (f.size() == 3 && f[0] != "http") {
      json& h = handlers[{f[1], f[2]}];
      h["handler"] = f[1];
      h["type"] = f[2];
      h[f[0]] = series;
      h["totals"][f[0]] = latest.count(k) ? latest[k] : json(0);
    } else if (f.size() == 4) {
      json& h = http[f[1] + " " + f[2]];
      h["method"] = f[1];
      h["route"] = f[2];
      h["byClass"][f[3]] = series;
    }
  }
  out["handlers"] = json::array();
  for (auto& [_, h] : handlers) {
    for (const auto& [__, name] : kMessageFamilies) {
      if (!h.contains(name)) h[name] = std::vector<double>(times.size(), 0.0);
      if (!h["totals"].contains(name)) h["totals"][name] = 0;
    }
    out["handlers"].push_back(std::move(h));
  }
  out["latency"] = json::array();
  out["http"] = json::array();
  for (const auto& [k, p] : pcts) {
    const auto f = split(k);
    if (f[0] == "latency") {
      out["latency"].push_back(json{
          {"handler", f[1]}, {"p50", p.at("p50")}, {"p95", p.at("p95")}, {"p99", p.at("p99")}});
    } else if (f.size() == 3) {
      json& h = http[f[1] + " " + f[2]];
      h["method"] = f[1];
      h["route"] = f[2];
      h["p95"] = p.at("p95");
    }
  }
  for (auto& [_, h] : http) out["http"].push_back(std::move(h));
  return out;
}

json FlowSampler::summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  json out{{"sampledAt", nullptr}};
  if (ring_.empty()) return out;
  const Sample& last = ring_.back();
  const Sample* first = &last;
  for (auto it = ring_.rbegin(); it != ring_.rend() && last.atMs - it->atMs <= 60000; ++it)
    first = &*it;
  const double dt = static_cast<double>(last.atMs - first->atMs) / 1000.0;
  out["sampledAt"] = last.atMs;
  for (const auto& [_, name] : kMessageFamilies) {
    double total = 0, before = 0;
    for (const auto& [k, v] : last.values)
      if (k.rfind(name + kSep, 0) == 0) total += v;
    for (const auto& [k, v] : first->values)
      if (k.rfind(name + kSep, 0) == 0) before += v;
    out["totals"][name] = total;
    out["perSecond"][name] = dt > 0 ? round4((total - before) / dt) : 0.0;
  }
  return out;
}

plugin::HttpResponse FlowSampler::handle(const plugin::HttpRequest& req,
                                         std::string& routeLabel) const {
  routeLabel = "/admin/flow";
  if (req.method != "GET") return methodNotAllowed("GET");
  const int history = static_cast<int>((capacity_ - 1) * static_cast<size_t>(sampleSeconds_) / 60);
  const int minutes =
      static_cast<int>(Query(req.query).integer("minutes", std::min(history, 5), 1, history));
  return jsonOk(200, series(minutes));
}

}  // namespace plexus::admin
