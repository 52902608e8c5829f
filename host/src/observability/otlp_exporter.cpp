#include "observability/otlp_exporter.hpp"

#include "observability/log.hpp"
#include "observability/metrics.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <istream>
#include <ostream>

namespace plexus::otlp {
namespace {

using nlohmann::json;

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return {};
  const size_t b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

bool percentDecode(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      return false;
    }
    out.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
    i += 2;
  }
  return true;
}

std::string get(const Getenv& getenv, const char* name) {
  const char* v = getenv(name);
  return v != nullptr ? trim(v) : std::string();
}

bool positive(const Getenv& getenv, const char* name, int64_t& out, std::string& error) {
  const std::string v = get(getenv, name);
  if (v.empty()) return true;
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || n <= 0 || n > 100000000) {
    error = std::string(name) + ": '" + v + "' is not a positive integer";
    return false;
  }
  out = n;
  return true;
}

json attributeValue(const trace::AttributeValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return json{{"stringValue", *s}};
  if (const auto* i = std::get_if<int64_t>(&v)) {
    return json{{"intValue", std::to_string(*i)}};  // int64 is a JSON string in proto3 JSON
  }
  if (const auto* b = std::get_if<bool>(&v)) return json{{"boolValue", *b}};
  return json{{"doubleValue", std::get<double>(v)}};
}

json attributes(const std::vector<trace::Attribute>& attrs) {
  json out = json::array();
  for (const auto& a : attrs)
    out.push_back(json{{"key", a.key}, {"value", attributeValue(a.value)}});
  return out;
}

bool zero(const std::array<uint8_t, 8>& id) {
  for (uint8_t b : id) {
    if (b != 0) return false;
  }
  return true;
}

std::string hex(const std::array<uint8_t, 8>& id) {
  trace::SpanContext c;
  c.spanId = id;
  return c.spanIdHex();
}

}  // namespace

bool parseKeyValues(const std::string& text, std::vector<std::pair<std::string, std::string>>& out,
                    std::string& error) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      error = "'" + item + "' is not key=value";
      return false;
    }
    std::string key, value;
    if (!percentDecode(trim(item.substr(0, eq)), key) ||
        !percentDecode(trim(item.substr(eq + 1)), value)) {
      error = "'" + item + "' has a bad percent-encoding";
      return false;
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

std::optional<Config> fromEnvironment(const Getenv& getenv, const std::string& service,
                                      const std::vector<trace::Attribute>& defaults,
                                      std::string& error) {
  error.clear();
  std::string disabled = get(getenv, "OTEL_SDK_DISABLED");
  for (char& c : disabled) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (disabled == "true") return std::nullopt;
  const std::string exporter = get(getenv, "OTEL_TRACES_EXPORTER");
  if (exporter == "none") return std::nullopt;
  if (!exporter.empty() && exporter != "otlp") {
    error = "OTEL_TRACES_EXPORTER: '" + exporter + "' is not supported (otlp or none)";
    return std::nullopt;
  }
  Config c;
  c.url = get(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");  // used as-is
  const char* urlVar = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
  if (c.url.empty()) {
    const std::string base = get(getenv, "OTEL_EXPORTER_OTLP_ENDPOINT");
    if (base.empty()) return std::nullopt;  // no endpoint: export is off
    c.url = base + (base.back() == '/' ? "" : "/") + "v1/traces";
    urlVar = "OTEL_EXPORTER_OTLP_ENDPOINT";
  }
  try {
    const Poco::URI uri(c.url);
    if (uri.getScheme() != "http" || uri.getHost().empty()) {
      error = std::string(urlVar) + ": '" + c.url +
              "' must be an http:// URL (for TLS, send to a local OpenTelemetry Collector)";
      return std::nullopt;
    }
  } catch (const Poco::Exception& e) {
    error = std::string(urlVar) + ": '" + c.url + "': " + e.displayText();
    return std::nullopt;
  }
  for (const char* var : {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"}) {
    const std::string p = get(getenv, var);
    if (!p.empty() && p != "http/json") {
      error = std::string(var) + ": '" + p + "' is not supported; this exporter speaks http/json";
      return std::nullopt;
    }
    if (!p.empty()) break;
  }
  // Signal-specific headers win over the general ones for the same key.
  for (const char* var : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}) {
    std::vector<std::pair<std::string, std::string>> h;
    if (!parseKeyValues(get(getenv, var), h, error)) {
      error = std::string(var) + ": " + error;
      return std::nullopt;
    }
    for (auto& [k, v] : h) {
      bool replaced = false;
      for (auto& existing : c.headers) {
        if (existing.first == k) {
          existing.second = v;
          replaced = true;
        }
      }
      if (!replaced) c.headers.emplace_back(k, v);
    }
  }
  for (const auto& [k, v] : c.headers) {
    for (char ch : k + v) {
      if (ch == '\r' || ch == '\n') {
        error = "OTEL_EXPORTER_OTLP_HEADERS: header '" + k + "' contains a line break";
        return std::nullopt;
      }
    }
  }
  // service.name: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES, else the config's service.
  std::vector<std::pair<std::string, std::string>> res;
  if (!parseKeyValues(get(getenv, "OTEL_RESOURCE_ATTRIBUTES"), res, error)) {
    error = "OTEL_RESOURCE_ATTRIBUTES: " + error;
    return std::nullopt;
  }
  std::string serviceName = service;
  for (const auto& [k, v] : res) {
    if (k == "service.name") serviceName = v;
  }
  const std::string fromVar = get(getenv, "OTEL_SERVICE_NAME");
  if (!fromVar.empty()) serviceName = fromVar;
  c.resource.push_back(trace::Attribute{"service.name", serviceName});
  auto set = [&](const std::string& key, const std::string& value) {
    if (key == "service.name") return;
    for (auto& a : c.resource) {
      if (a.key == key) {
        a.value = value;
        return;
      }
    }
    c.resource.push_back(trace::Attribute{key, value});
  };
  for (const auto& a : defaults) {
    if (a.key != "service.name") c.resource.push_back(a);
  }
  for (const auto& [k, v] : res) set(k, v);

  int64_t n = 0;
  n = static_cast<int64_t>(c.maxQueue);
  if (!positive(getenv, "OTEL_BSP_MAX_QUEUE_SIZE", n, error)) return std::nullopt;
  c.maxQueue = static_cast<size_t>(n);
  n = static_cast<int64_t>(c.maxBatch);
  if (!positive(getenv, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", n, error)) return std::nullopt;
  c.maxBatch = std::min(static_cast<size_t>(n), c.maxQueue);
  n = c.scheduleDelayMs;
  if (!positive(getenv, "OTEL_BSP_SCHEDULE_DELAY", n, error)) return std::nullopt;
  c.scheduleDelayMs = static_cast<int>(n);
  n = c.timeoutMs;
  if (!positive(getenv, "OTEL_EXPORTER_OTLP_TIMEOUT", n, error)) return std::nullopt;
  if (!positive(getenv, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", n, error)) return std::nullopt;
  c.timeoutMs = static_cast<int>(n);
  return c;
}

std::string encode(const std::vector<trace::SpanData>& spans,
                   const std::vector<trace::Attribute>& resource) {
  json out = json::array();
  for (const auto& s : spans) {
    json span{{"traceId", s.context.traceIdHex()},
              {"spanId", s.context.spanIdHex()},
              {"flags", static_cast<int>(s.context.flags)},
              {"name", s.name},
              {"kind", static_cast<int>(s.kind)},
              {"startTimeUnixNano", std::to_string(s.startUnixNano)},
              {"endTimeUnixNano", std::to_string(s.endUnixNano)},
              {"attributes", attributes(s.attributes)},
              {"status", json{{"code", static_cast<int>(s.status)}}}};
    if (!zero(s.parentSpanId)) span["parentSpanId"] = hex(s.parentSpanId);
    if (!s.statusMessage.empty()) span["status"]["message"] = s.statusMessage;
    out.push_back(std::move(span));
  }
  json body{
      {"resourceSpans",
       json::array({json{{"resource", json{{"attributes", attributes(resource)}}},
                         {"scopeSpans", json::array({json{{"scope", json{{"name", "plexus-host"}}},
                                                          {"spans", std::move(out)}}})}}})}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

Exporter::Exporter(Config config, Metrics* metrics)
    : config_(std::move(config)), metrics_(metrics) {
  if (metrics_ != nullptr) {
    std::string err;
    exportedMetric_ = metrics_->define(Metrics::Kind::Counter, "plexus_trace_spans_exported_total",
                                       "Spans accepted by the OTLP endpoint.", {}, {}, err, true);
    droppedMetric_ = metrics_->define(
        Metrics::Kind::Counter, "plexus_trace_spans_dropped_total",
        "Spans not exported, by reason: queue_full (the collector is slower than the host) or "
        "export_failed (the endpoint was unreachable or refused the batch).",
        {"reason"}, {}, err, true);
    // Present from the start so alerts and rate() see a zero before the first drop.
    metrics_->update(exportedMetric_, {}, 0);
    metrics_->update(droppedMetric_, {"queue_full"}, 0);
    metrics_->update(droppedMetric_, {"export_failed"}, 0);
  }
}

Exporter::~Exporter() { stop(); }

void Exporter::start() {
  thread_ = std::thread([this] { loop(); });
}

void Exporter::countDropped(const char* reason, size_t n) {
  dropped_ += n;
  if (metrics_ != nullptr) metrics_->update(droppedMetric_, {reason}, static_cast<double>(n));
}

bool Exporter::enqueue(trace::SpanData&& span) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && queue_.size() < config_.maxQueue) {
      queue_.push_back(std::move(span));
      if (queue_.size() >= config_.maxBatch) {
        flushNow_ = true;
        cv_.notify_one();
      }
      return true;
    }
  }
  countDropped("queue_full", 1);
  return false;
}

void Exporter::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool Exporter::post(const std::string& body, std::string& error) {
  try {
    const Poco::URI uri(config_.url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(static_cast<long>(config_.timeoutMs) * 1000));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, uri.getPathEtc(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength64(static_cast<Poco::Int64>(body.size()));
    for (const auto& [k, v] : config_.headers) request.set(k, v);
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::string answer;
    char buf[1024];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      if (answer.size() < 512) answer.append(buf, static_cast<size_t>(in.gcount()));
    }
    const int status = response.getStatus();
    if (status >= 200 && status < 300) return true;
    error = "HTTP " + std::to_string(status) + " " + answer.substr(0, 200);
  } catch (const Poco::Exception& e) {
    error = e.displayText();
  } catch (const std::exception& e) {
    error = e.what();
  }
  return false;
}

void Exporter::loop() {
  using Clock = std::chrono::steady_clock;
  auto next = Clock::now() + std::chrono::milliseconds(config_.scheduleDelayMs);
  auto flushUntil = Clock::time_point::max();  // set at stop: the final flush is bounded
  bool last = false;
  while (!last) {
    std::vector<trace::SpanData> batch;
    bool more = false, shuttingDown = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next, [&] { return stopping_ || flushNow_; });
      flushNow_ = false;
      last = stopping_;
      const size_t n = std::min(queue_.size(), config_.maxBatch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      more = queue_.size() >= config_.maxBatch;  // more full batches waiting
      flushNow_ = more;
      shuttingDown = stopping_;
      if (last && !queue_.empty()) last = false;  // drain before leaving
    }
    if (!more) next = Clock::now() + std::chrono::milliseconds(config_.scheduleDelayMs);
    if (shuttingDown && flushUntil == Clock::time_point::max())
      flushUntil = Clock::now() + std::chrono::milliseconds(config_.timeoutMs);
    if (batch.empty()) continue;
    std::string error;
    const bool sent = post(encode(batch, config_.resource), error);
    if (sent) {
      exported_ += batch.size();
      if (metrics_ != nullptr)
        metrics_->update(exportedMetric_, {}, static_cast<double>(batch.size()));
      if (!lastError_.empty()) log::write(log::Level::Info, "trace export recovered");
      lastError_.clear();
    } else {
      // No retry: a collector that is down must not make the host hold spans it cannot bound.
      countDropped("export_failed", batch.size());
      if (error != lastError_) {
        log::write(log::Level::Warn, "trace export failed; spans dropped",
                   json{{"endpoint", config_.url}, {"error", error}, {"spans", batch.size()}});
      }
      lastError_ = error;
    }
    if (shuttingDown && (!sent || Clock::now() >= flushUntil)) {
      // Shutting down with the endpoint away or slow: count the rest as dropped, don't wait.
      std::lock_guard<std::mutex> lock(mu_);
      countDropped("export_failed", queue_.size());
      queue_.clear();
      last = true;
    }
  }
}

}  // namespace plexus::otlp
