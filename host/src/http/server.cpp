#include "http/server.hpp"

#include "dispatch/dispatcher.hpp"
#include "http/admin.hpp"
#include "http/auth.hpp"
#include "http/front_end.hpp"
#include "http/health.hpp"
#include "http/rate_limit.hpp"
#include "http/router.hpp"

#include "base/uuid.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "observability/trace.hpp"
#include "plugin/runtime.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace plexus::http {

namespace {

using nlohmann::json;

// How much of an oversized body is read and thrown away so the client sees the 413 instead of a
// reset connection; beyond this the connection is closed.
constexpr int64_t kDiscardCap = 64ll << 20;

bool validRequestId(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string requestIdOf(const Request* req) {
  const std::string& given = req != nullptr ? req->header("X-Request-Id") : std::string();
  return validRequestId(given) ? given : newUuidV7();
}

// The method as a metric label: any token is a valid method, so unknown ones share one label.
std::string methodLabel(const std::string& method) {
  for (const char* m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == m) return method;
  }
  return method.empty() ? "unknown" : "other";
}

bool isJsonType(const std::string& contentType) {
  std::string t = contentType.substr(0, contentType.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t == "application/json" || (t.size() > 5 && t.compare(t.size() - 5, 5, "+json") == 0);
}

bool isProbe(const std::string& path) {
  return path == "/health" || path == "/health/ready" || path == "/metrics";
}

// Tracing: one server span per request, "HTTP {method} {route template}", continuing the client's
// traceparent. Probes and scrapes (/health, /health/ready, /metrics) are not traced.
trace::Span startServerSpan(const Request& req) {
  trace::Span span =
      trace::startSpan("HTTP " + req.method, trace::SpanKind::Server, req.header("traceparent"));
  if (span.recording()) {
    span.setAttribute("http.request.method", req.method);
    span.setAttribute("url.path", req.path());
  }
  return span;
}

void finishServerSpan(trace::Span& span, const std::string& method, const std::string& route,
                      int status) {
  if (isProbe(route)) {
    span.discard();
    return;
  }
  const bool matched = !route.empty() && route.front() == '/';
  span.setName(matched ? "HTTP " + method + " " + route : "HTTP " + method);
  if (matched) span.setAttribute("http.route", route);
  span.setAttribute("http.response.status_code", static_cast<int64_t>(status));
  if (status >= 500) span.setStatus(trace::StatusCode::Error, "HTTP " + std::to_string(status));
}

Response send(int status, std::string body, const std::string& requestId,
              const std::string& contentType = "application/json") {
  Response r;
  r.status = status;
  r.headers.emplace_back("X-Request-Id", requestId);
  r.headers.emplace_back("Content-Type", contentType);
  r.body = std::move(body);
  return r;
}

Response error(int status, const std::string& message, const std::string& requestId) {
  return send(status, json{{"error", message}}.dump(), requestId);
}

// The plain request the admin API and plugin routes take (without route parameters or fields).
plugin::HttpRequest pluginRequest(const Request& req, const std::string& requestId) {
  plugin::HttpRequest out;
  out.method = req.method;
  out.path = req.path();
  out.query = req.query();
  out.body = req.body;
  out.requestId = requestId;
  return out;
}

Response reply(const plugin::HttpResponse& out, const std::string& requestId) {
  Response r;
  r.status = out.status;
  r.headers = out.headers;
  r.headers.emplace_back("X-Request-Id", requestId);
  if (out.status != 204 && out.status != 304) {
    r.headers.emplace_back("Content-Type", out.contentType);
    r.body = out.body;
  }
  return r;
}

}  // namespace

struct Server::Context : FrontEnd::Handler {
  Context(const config::Config& c, plugin::Runtime& r, Metrics& m, std::atomic<bool>& d)
      : config(c),
        runtime(r),
        metrics(m),
        draining(d),
        health(c.service, c.transport.stallSeconds, r, d) {}

  Response handle(Request& req) override;
  Response refuse(const Request* req, int status, const std::string& message) override;

  Response serve(const Request& req, const std::string& requestId, std::string& routeLabel);
  std::optional<Response> guard(const Request& req, const std::string& path,
                                const std::string& requestId);

  const config::Config& config;
  plugin::Runtime& runtime;
  Metrics& metrics;
  Router router;
  std::atomic<bool>& draining;
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0;
  bool wakeUp = false;
  Health health;
  AdminApi admin{config, runtime, [this] { return health.ready(); }};
  std::unique_ptr<Authenticator> auth;   // http.auth.enabled
  std::unique_ptr<RateLimiter> limiter;  // http.limits.rate_per_second > 0
};

Response Server::Context::handle(Request& req) {
  const auto started = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu);
    ++inflight;
  }
  metrics.httpInFlight(1);
  const std::string requestId = requestIdOf(&req);
  std::string routeLabel = "unmatched";
  Response resp;
  trace::Span span = startServerSpan(req);
  trace::Scope spanScope(span);
  try {
    resp = serve(req, requestId, routeLabel);
  } catch (const std::exception& e) {
    log::write(log::Level::Error, "request failed",
               json{{"request_id", requestId}, {"error", e.what()}});
    resp = error(500, "internal error", requestId);
  }
  const int status = resp.status;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics.observeHttp(methodLabel(req.method), routeLabel, status, seconds);
  finishServerSpan(span, req.method, routeLabel, status);
  // Server errors are logged; a 503 from readiness is an answer, not an error.
  const bool serverError = status >= 500 && routeLabel != "/health/ready";
  if (log::enabled(log::Level::Debug) || serverError) {
    log::write(serverError ? log::Level::Error : log::Level::Debug, "http request",
               json{{"request_id", requestId},
                    {"method", req.method},
                    {"path", req.target},
                    {"status", status},
                    {"duration_ms", std::round(seconds * 1e6) / 1e3}});
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    --inflight;
  }
  metrics.httpInFlight(-1);
  cv.notify_all();
  return resp;
}

// The front end's own answers (timeouts, limits, a full queue): JSON with a request id, counted
// like every other response.
Response Server::Context::refuse(const Request* req, int status, const std::string& message) {
  metrics.observeHttp(methodLabel(req != nullptr ? req->method : ""), "refused", status, 0.0);
  return error(status, message, requestIdOf(req));
}

Response Server::Context::serve(const Request& req, const std::string& requestId,
                                std::string& routeLabel) {
  const std::string& method = req.method;
  const std::string path = req.path();

  // The management listener answers the probes and /metrics only.
  if (req.port == Port::Management && !isProbe(path)) return error(404, "not found", requestId);

  if (auto refused = guard(req, path, requestId)) {
    routeLabel = "refused";
    return *refused;
  }

  if (isProbe(path)) {
    routeLabel = path;
    if (method != "GET" && method != "HEAD") {
      Response r = error(405, "method not allowed", requestId);
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    if (path == "/metrics")
      return send(200, metrics.scrape(), requestId, "text/plain; version=0.0.4; charset=utf-8");
    return reply(path == "/health" ? health.live() : health.ready(), requestId);
  }

  if (path.rfind("/admin/", 0) == 0) {
    plugin::HttpRequest ar = pluginRequest(req, requestId);
    for (const auto& [k, v] : req.headers) ar.headers.emplace_back(k, v);  // token for peers, ETags
    return reply(admin.handle(ar, routeLabel), requestId);
  }

  const Router::Match m = router.match(method, path);
  if (m.kind != Router::Match::Kind::Found) {
    if (m.kind == Router::Match::Kind::MethodNotAllowed) {
      std::string allow;
      for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
      Response r = error(405, "method not allowed", requestId);
      r.headers.emplace_back("Allow", allow);
      return r;
    }
    return error(404, "not found", requestId);
  }
  const plugin::RouteBinding& route = runtime.routes()[m.route];
  routeLabel = route.pathTemplate;

  if (!req.body.empty() && (method == "POST" || method == "PUT" || method == "PATCH") &&
      !isJsonType(req.header("Content-Type"))) {
    return error(415, "expected Content-Type: application/json", requestId);
  }

  plugin::HttpRequest pr = pluginRequest(req, requestId);
  pr.params = m.params;
  pr.headers = req.headers;
  return reply(runtime.handle(route, pr), requestId);
}

// Rate limit and bearer token, before any routing (the header count is the parser's). Probes and
// /metrics are never rate limited nor authenticated.
std::optional<Response> Server::Context::guard(const Request& req, const std::string& path,
                                               const std::string& requestId) {
  if (Authenticator::exempt(path)) return std::nullopt;
  const auto& limits = config.http.limits;
  if (limiter) {
    std::string forwarded;  // the last X-Forwarded-For field holds the nearest proxy's entry
    for (const auto& [k, v] : req.headers)
      if (iequals(k, "X-Forwarded-For")) forwarded = v;
    const std::string client =
        RateLimiter::clientKey(req.peer, forwarded, limits.trustForwardedFor);
    const RateLimiter::Decision d = limiter->take(client);
    if (!d.allowed) {
      Response r = error(429, "too many requests", requestId);
      r.headers.emplace_back("Retry-After", std::to_string(d.retryAfterSeconds));
      return r;
    }
  }
  if (auth) {
    const AuthResult a = auth->check(path, req.header("Authorization"),
                                     std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
    if (a.status != 0) {
      Response r = error(a.status, a.error, requestId);
      r.headers.emplace_back("WWW-Authenticate", a.wwwAuthenticate);
      return r;
    }
  }
  return std::nullopt;
}

Server::Server(const config::Config& config, plugin::Runtime& runtime, Metrics& metrics)
    : config_(config), ctx_(std::make_unique<Context>(config, runtime, metrics, draining_)) {
  for (size_t i = 0; i < runtime.routes().size(); ++i) {
    const auto& r = runtime.routes()[i];
    std::string error;
    if (!ctx_->router.add(r.method, r.pathTemplate, i, error)) throw std::runtime_error(error);
    if (r.pathTemplate == "/health" || r.pathTemplate.rfind("/health/", 0) == 0 ||
        r.pathTemplate == "/metrics" || r.pathTemplate.rfind("/admin/", 0) == 0) {
      throw std::runtime_error("route " + r.pathTemplate + " collides with a host endpoint");
    }
  }
  if (config.http.auth.enabled)
    ctx_->auth = std::make_unique<Authenticator>(config.http.auth, config.service);
  const auto& limits = config.http.limits;
  if (limits.ratePerSecond > 0) {
    ctx_->limiter = std::make_unique<RateLimiter>(limits.ratePerSecond, limits.burst,
                                                  static_cast<size_t>(limits.maxClients));
  }
}

void Server::attachTransportState(std::function<std::string()> state,
                                  std::function<std::map<std::string, std::string>()> nodes) {
  ctx_->health.attachTransportState(std::move(state), std::move(nodes));
}

void Server::attach(store::Store* store, dispatch::Dispatcher* dispatcher,
                    const std::atomic<bool>* migrated) {
  ctx_->health.attach(store, dispatcher ? &dispatcher->outbox() : nullptr, migrated);
  ctx_->admin.attach(store, dispatcher ? &dispatcher->deadLetters() : nullptr);
}

AdminApi& Server::admin() { return ctx_->admin; }

Server::~Server() {
  if (frontEnd_) frontEnd_->stop();
}

void Server::start() {
  const auto& h = config_.http;
  FrontEnd::Options o;
  o.host = h.host;
  o.port = h.port;
  o.managementPort = h.managementPort;
  o.backlog = h.queue;
  o.head.maxHeaderBytes = static_cast<size_t>(h.limits.maxHeaderBytes);
  o.head.maxHeaders = h.limits.maxHeaders;
  o.maxBodyBytes = h.maxBodyBytes;
  o.discardBytes = kDiscardCap;
  o.maxConnections = h.limits.maxConnections;
  o.maxConnectionsPerClient = h.limits.maxConnectionsPerClient;
  o.keepAliveMs = h.keepAliveSeconds * 1000;
  o.headerTimeoutMs = h.headerTimeoutMs;
  o.bodyTimeoutMs = h.bodyTimeoutMs;
  o.requestTimeoutMs = h.requestTimeoutMs;
  o.workers = h.threads;
  o.queue = h.queue;
  frontEnd_ = std::make_unique<FrontEnd>(o, *ctx_, ctx_->metrics);
  frontEnd_->start();
}

int Server::port() const { return frontEnd_ ? frontEnd_->port() : 0; }
int Server::managementPort() const { return frontEnd_ ? frontEnd_->managementPort() : 0; }

bool Server::shutdown() {
  draining_ = true;
  const auto& h = config_.http;
  {
    // Keep serving for the grace period so load balancers see readiness fail before connections
    // are refused (Kubernetes removes the endpoint asynchronously).
    std::unique_lock<std::mutex> lock(ctx_->mu);
    ctx_->cv.wait_for(lock, std::chrono::milliseconds(h.shutdownDelayMs),
                      [&] { return ctx_->wakeUp; });
  }
  frontEnd_->stopAccepting();  // no new connections; requests under way go on
  const bool drained = frontEnd_->waitIdle(std::chrono::seconds(h.drainSeconds));
  if (!drained) {
    int left = 0;
    {
      std::lock_guard<std::mutex> lock(ctx_->mu);
      left = ctx_->inflight;
    }
    log::write(log::Level::Warn, "drain budget exhausted; aborting in-flight requests",
               json{{"in_flight", left}});
  }
  frontEnd_->stop();
  return drained;
}

}  // namespace plexus::http
