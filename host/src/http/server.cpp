#include "http/server.hpp"

#include "dispatch/dispatcher.hpp"
#include "http/admin.hpp"
#include "http/auth.hpp"
#include "http/health.hpp"
#include "http/rate_limit.hpp"

#include "base/uuid.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "observability/trace.hpp"
#include "plugin/runtime.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/String.h>
#include <Poco/ThreadPool.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <istream>

namespace plexus::http {

struct Server::Context {
  Context(const config::Config& c, plugin::Runtime& r, Metrics& m, std::atomic<bool>& d)
      : config(c),
        runtime(r),
        metrics(m),
        draining(d),
        health(c.service, c.transport.stallSeconds, r, d) {}

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

bool isJsonType(const std::string& contentType) {
  std::string t = contentType.substr(0, contentType.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t == "application/json" || (t.size() > 5 && t.compare(t.size() - 5, 5, "+json") == 0);
}

// Reads and drops up to `limit` bytes; true when the stream ended within it.
bool discard(std::istream& in, int64_t limit) {
  char buf[16384];
  int64_t total = 0;
  while (in && total <= limit) {
    in.read(buf, sizeof buf);
    total += in.gcount();
    if (in.gcount() == 0) break;
  }
  return total <= limit && !in.bad();
}

// Tracing: one server span per request, "HTTP {method} {route template}", continuing the client's
// traceparent. Probes and scrapes (/health, /health/ready, /metrics) are not traced.
trace::Span startServerSpan(const Poco::Net::HTTPServerRequest& req) {
  trace::Span span = trace::startSpan("HTTP " + req.getMethod(), trace::SpanKind::Server,
                                      req.get("traceparent", ""));
  if (span.recording()) {
    span.setAttribute("http.request.method", req.getMethod());
    span.setAttribute("url.path", req.getURI().substr(0, req.getURI().find('?')));
  }
  return span;
}

void finishServerSpan(trace::Span& span, const std::string& method, const std::string& route,
                      int status) {
  if (route == "/health" || route == "/health/ready" || route == "/metrics") {
    span.discard();
    return;
  }
  const bool matched = !route.empty() && route.front() == '/';
  span.setName(matched ? "HTTP " + method + " " + route : "HTTP " + method);
  if (matched) span.setAttribute("http.route", route);
  span.setAttribute("http.response.status_code", static_cast<int64_t>(status));
  if (status >= 500) span.setStatus(trace::StatusCode::Error, "HTTP " + std::to_string(status));
}

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(Server::Context& ctx) : ctx_(ctx) {}

  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& resp) override {
    const auto started = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(ctx_.mu);
      ++ctx_.inflight;
    }
    ctx_.metrics.httpInFlight(1);
    std::string requestId = req.get("X-Request-Id", "");
    if (!validRequestId(requestId)) requestId = newUuidV7();
    std::string routeLabel = "unmatched";
    int status = 500;
    trace::Span span = startServerSpan(req);
    trace::Scope spanScope(span);
    try {
      status = serve(req, resp, requestId, routeLabel);
    } catch (const std::exception& e) {
      log::write(log::Level::Error, "request failed",
                 json{{"request_id", requestId}, {"error", e.what()}});
      if (!resp.sent())
        status = send(resp, 500, json{{"error", "internal error"}}.dump(), requestId);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ctx_.metrics.observeHttp(req.getMethod(), routeLabel, status, seconds);
    finishServerSpan(span, req.getMethod(), routeLabel, status);
    // Server errors are logged; a 503 from readiness is an answer, not an error.
    const bool serverError = status >= 500 && routeLabel != "/health/ready";
    if (log::enabled(log::Level::Debug) || serverError) {
      log::write(serverError ? log::Level::Error : log::Level::Debug, "http request",
                 json{{"request_id", requestId},
                      {"method", req.getMethod()},
                      {"path", req.getURI()},
                      {"status", status},
                      {"duration_ms", std::round(seconds * 1e6) / 1e3}});
    }
    {
      std::lock_guard<std::mutex> lock(ctx_.mu);
      --ctx_.inflight;
    }
    ctx_.metrics.httpInFlight(-1);
    ctx_.cv.notify_all();
  }

 private:
  static int send(Poco::Net::HTTPServerResponse& resp, int status, const std::string& body,
                  const std::string& requestId,
                  const std::string& contentType = "application/json") {
    resp.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    resp.set("X-Request-Id", requestId);
    resp.setContentType(contentType);
    resp.setContentLength64(static_cast<Poco::Int64>(body.size()));
    // Flushed here, inside the in-flight window, so a drain never closes a socket that still holds
    // an unsent response.
    std::ostream& os = resp.send();
    os.write(body.data(), static_cast<std::streamsize>(body.size()));
    os.flush();
    return status;
  }
  static int error(Poco::Net::HTTPServerResponse& resp, int status, const std::string& message,
                   const std::string& requestId) {
    return send(resp, status, json{{"error", message}}.dump(), requestId);
  }

  int serve(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
            const std::string& requestId, std::string& routeLabel) {
    const std::string& method = req.getMethod();
    const std::string& uri = req.getURI();
    const size_t q = uri.find('?');
    const std::string path = uri.substr(0, q);
    const std::string query = q == std::string::npos ? std::string() : uri.substr(q + 1);

    if (const int refused = guard(req, resp, path, requestId)) {
      routeLabel = "refused";
      return refused;
    }

    if (path == "/health" || path == "/health/ready" || path == "/metrics") {
      routeLabel = path;
      // Whatever the client sent is irrelevant here; keep the connection usable.
      if (method != "GET" && method != "HEAD") {
        if (!discard(req.stream(), kDiscardCap)) resp.setKeepAlive(false);
        resp.set("Allow", "GET");
        return error(resp, 405, "method not allowed", requestId);
      }
      if (path == "/metrics") {
        return send(resp, 200, ctx_.metrics.scrape(), requestId,
                    "text/plain; version=0.0.4; charset=utf-8");
      }
      return reply(resp, path == "/health" ? ctx_.health.live() : ctx_.health.ready(), requestId);
    }

    if (path.rfind("/admin/", 0) == 0) {
      plugin::HttpRequest ar;
      if (const int refused = readBody(req, resp, requestId, ar.body)) return refused;
      ar.method = method;
      ar.path = path;
      ar.query = query;
      ar.requestId = requestId;
      for (const auto& [k, v] : req) ar.headers.emplace_back(k, v);  // token for peers, ETags
      return reply(resp, ctx_.admin.handle(ar, routeLabel), requestId);
    }

    const Router::Match m = ctx_.router.match(method, path);
    if (m.kind != Router::Match::Kind::Found) {
      if (!discard(req.stream(), kDiscardCap)) resp.setKeepAlive(false);
      if (m.kind == Router::Match::Kind::MethodNotAllowed) {
        std::string allow;
        for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
        resp.set("Allow", allow);
        return error(resp, 405, "method not allowed", requestId);
      }
      return error(resp, 404, "not found", requestId);
    }
    const plugin::RouteBinding& route = ctx_.runtime.routes()[m.route];
    routeLabel = route.pathTemplate;

    std::string body;
    if (const int refused = readBody(req, resp, requestId, body)) return refused;
    if (!body.empty() && (method == "POST" || method == "PUT" || method == "PATCH") &&
        !isJsonType(req.getContentType())) {
      return error(resp, 415, "expected Content-Type: application/json", requestId);
    }

    plugin::HttpRequest pr;
    pr.method = method;
    pr.path = path;
    pr.query = query;
    pr.body = std::move(body);
    pr.requestId = requestId;
    pr.params = m.params;
    for (const auto& [k, v] : req) pr.headers.emplace_back(k, v);
    return reply(resp, ctx_.runtime.handle(route, pr), requestId);
  }

  static int reply(Poco::Net::HTTPServerResponse& resp, const plugin::HttpResponse& out,
                   const std::string& requestId) {
    for (const auto& [k, v] : out.headers) resp.add(k, v);
    if (out.status == 204 || out.status == 304) {
      resp.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(out.status));
      resp.set("X-Request-Id", requestId);
      resp.setContentLength(0);
      resp.send().flush();
      return out.status;
    }
    return send(resp, out.status, out.body, requestId, out.contentType);
  }

  // The body, limited: an oversized body is read away (up to a cap) so the client gets its 413.
  // Returns the status sent, or 0 with `body` filled.
  int readBody(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
               const std::string& requestId, std::string& body) {
    const int64_t max = ctx_.config.http.maxBodyBytes;
    if (req.hasContentLength() && req.getContentLength64() > max) {
      if (req.getContentLength64() > max + kDiscardCap || !discard(req.stream(), kDiscardCap))
        resp.setKeepAlive(false);
      return error(resp, 413, "request body larger than " + std::to_string(max) + " bytes",
                   requestId);
    }
    std::istream& in = req.stream();
    char buf[16384];
    while (in) {
      in.read(buf, sizeof buf);
      const std::streamsize n = in.gcount();
      if (n <= 0) break;
      if (static_cast<int64_t>(body.size()) + n > max) {
        if (!discard(in, kDiscardCap)) resp.setKeepAlive(false);
        return error(resp, 413, "request body larger than " + std::to_string(max) + " bytes",
                     requestId);
      }
      body.append(buf, static_cast<size_t>(n));
    }
    return 0;
  }

  // Header count, rate limit and bearer token, before any routing or body handling. Returns the
  // status sent, or 0 to go on. /health* and /metrics are never rate limited nor authenticated.
  int guard(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
            const std::string& path, const std::string& requestId) {
    const auto& limits = ctx_.config.http.limits;
    // A refused request's body is read away only up to the body limit, else the connection closes.
    auto refuse = [&](int status, const std::string& message) {
      if (!discard(req.stream(), ctx_.config.http.maxBodyBytes)) resp.setKeepAlive(false);
      return error(resp, status, message, requestId);
    };
    if (static_cast<int>(req.size()) > limits.maxHeaders) {
      return refuse(431, "more than " + std::to_string(limits.maxHeaders) + " header fields");
    }
    if (Authenticator::exempt(path)) return 0;
    if (ctx_.limiter) {
      std::string forwarded;  // the last X-Forwarded-For field holds the nearest proxy's entry
      for (const auto& [k, v] : req)
        if (Poco::icompare(k, "X-Forwarded-For") == 0) forwarded = v;
      const std::string client = RateLimiter::clientKey(req.clientAddress().host().toString(),
                                                        forwarded, limits.trustForwardedFor);
      const RateLimiter::Decision d = ctx_.limiter->take(client);
      if (!d.allowed) {
        resp.set("Retry-After", std::to_string(d.retryAfterSeconds));
        return refuse(429, "too many requests");
      }
    }
    if (ctx_.auth) {
      const AuthResult a = ctx_.auth->check(path, req.get("Authorization", ""),
                                            std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
      if (a.status != 0) {
        resp.set("WWW-Authenticate", a.wwwAuthenticate);
        return refuse(a.status, a.error);
      }
    }
    return 0;
  }

  Server::Context& ctx_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Server::Context& ctx) : ctx_(ctx) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(ctx_);
  }

 private:
  Server::Context& ctx_;
};

}  // namespace

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
  if (server_) server_->stopAll(true);
}

void Server::start() {
  const auto& h = config_.http;
  // SO_REUSEADDR for quick restarts, but never SO_REUSEPORT (Poco's default here): a second host
  // on the same port must fail instead of silently sharing the traffic.
  Poco::Net::ServerSocket socket;
  socket.bind(Poco::Net::SocketAddress(h.host, static_cast<Poco::UInt16>(h.port)), true, false);
  socket.listen(h.queue);
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(h.threads);
  params->setMaxQueued(h.queue);
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(h.keepAliveSeconds, 0));
  params->setTimeout(Poco::Timespan(30, 0));
  params->setServerName(config_.service);
  pool_ = std::make_unique<Poco::ThreadPool>(2, h.threads, 60);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*ctx_), *pool_, socket, params);
  server_->start();
}

int Server::port() const { return server_ ? server_->port() : 0; }

bool Server::shutdown() {
  draining_ = true;
  const auto& h = config_.http;
  std::unique_lock<std::mutex> lock(ctx_->mu);
  // Keep serving for the grace period so load balancers see readiness fail before connections
  // are refused (Kubernetes removes the endpoint asynchronously).
  ctx_->cv.wait_for(lock, std::chrono::milliseconds(h.shutdownDelayMs),
                    [&] { return ctx_->wakeUp; });
  lock.unlock();
  server_->stop();  // no new connections; in-flight requests go on
  lock.lock();
  const bool drained = ctx_->cv.wait_for(lock, std::chrono::seconds(h.drainSeconds),
                                         [&] { return ctx_->inflight == 0; });
  const int left = ctx_->inflight;
  lock.unlock();
  if (!drained) {
    log::write(log::Level::Warn, "drain budget exhausted; aborting in-flight requests",
               json{{"in_flight", left}});
  }
  server_->stopAll(true);
  pool_->joinAll();
  return drained;
}

}  // namespace plexus::http
