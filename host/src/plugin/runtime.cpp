#include "plugin/runtime.hpp"

#include "base/clock.hpp"
#include "base/uuid.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "plugin/crash_report.hpp"
#include "plugin/unit_of_work.hpp"

#include <Poco/Environment.h>
#include <Poco/Process.h>
#include <Poco/String.h>

#include <chrono>
#include <optional>
#include <set>

// The opaque handles of the ABI, defined by the host.
struct plexus_host {
  plexus::plugin::Runtime* runtime = nullptr;
  std::string plugin;
  std::string version;  // of the plugin this instance belongs to (log lines carry it)
  std::string component;
  std::string config;           // the plugin's config as JSON text
  std::set<int64_t> metricIds;  // the metrics this instance defined (only those may be updated)
  std::mutex mu;
};

struct plexus_call {
  plexus::plugin::Runtime* runtime = nullptr;
  plexus_host* host = nullptr;
  plexus::store::Transaction* tx = nullptr;  // null without a store
  plexus::plugin::Part* part = nullptr;      // what the call sends; shared with local invokes
  std::string messageId;  // the message being handled (causation of what it sends)
  std::string traceparent;
  std::string stream;
  std::string correlation;
  std::string causation;  // id of the message or request this call handles
  std::string requestId;
  std::string result;
  std::string error;
  bool isRoute = false;
  bool projectingInline = false;  // an inline perspective: it must not emit, send or invoke
  bool responded = false;
  int httpStatus = 0;
  std::string contentType;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

namespace plexus::plugin {

namespace {

thread_local std::string tlsError;
// The hook running on this thread, so log lines carry its message or request id.
thread_local const plexus_call* tlsCall = nullptr;

class CurrentCall {
 public:
  explicit CurrentCall(const plexus_call* c) : previous_(tlsCall) { tlsCall = c; }
  ~CurrentCall() { tlsCall = previous_; }
  CurrentCall(const CurrentCall&) = delete;
  CurrentCall& operator=(const CurrentCall&) = delete;

 private:
  const plexus_call* previous_;
};

// Ends a hook call once its transaction's after-commit work ran (the plugin's callbacks first).
void endCallAfterCommit(void* component, int) { endCall(*static_cast<Component*>(component)); }

plexus_str view(const std::string& s) { return plexus_str{s.data(), s.size()}; }
std::string text(plexus_str s) { return s.size ? std::string(s.data, s.size) : std::string(); }

nlohmann::json logFields(const plexus_host* h) {
  return nlohmann::json{
      {"plugin", h->plugin}, {"plugin_version", h->version}, {"component", h->component}};
}

plexus_status fail(plexus_call* call, plexus_status status, std::string reason) {
  if (call != nullptr) {
    call->error = std::move(reason);
  } else {
    tlsError = std::move(reason);
  }
  return status;
}

// ---- the host API table ----

void apiLog(plexus_host* h, plexus_log_level level, plexus_str message) {
  log::Level l = log::Level::Info;
  if (level == PLEXUS_LOG_DEBUG) l = log::Level::Debug;
  if (level == PLEXUS_LOG_WARN) l = log::Level::Warn;
  if (level == PLEXUS_LOG_ERROR) l = log::Level::Error;
  if (!log::enabled(l)) return;
  nlohmann::json fields = logFields(h);
  if (tlsCall != nullptr) {
    if (!tlsCall->messageId.empty()) fields["message_id"] = tlsCall->messageId;
    if (!tlsCall->requestId.empty()) fields["request_id"] = tlsCall->requestId;
    if (!tlsCall->correlation.empty()) fields["correlation"] = tlsCall->correlation;
  }
  log::write(l, text(message), fields);
}

plexus_str apiConfig(plexus_host* h) { return view(h->config); }

int64_t apiNow(plexus_host* h) { return h->runtime->clock().nowMs(); }

void apiNewId(plexus_host*, char out[37]) {
  const std::string id = newUuidV7();
  std::memcpy(out, id.c_str(), 37);
}

int64_t apiMetricDefine(plexus_host* h, plexus_metric_kind kind, plexus_str name, plexus_str help,
                        const plexus_str* labels, size_t labelCount, const double* buckets,
                        size_t bucketCount) {
  if (kind < PLEXUS_METRIC_COUNTER || kind > PLEXUS_METRIC_HISTOGRAM) {
    tlsError = "unknown metric kind " + std::to_string(kind);
    return 0;
  }
  std::vector<std::string> l;
  for (size_t i = 0; i < labelCount; ++i) l.push_back(text(labels[i]));
  std::vector<double> b;
  if (buckets != nullptr) b.assign(buckets, buckets + bucketCount);
  std::string error;
  const int64_t id = h->runtime->metrics().define(static_cast<Metrics::Kind>(kind), text(name),
                                                  text(help), l, b, error);
  if (id == 0) {
    tlsError = error;
    return 0;
  }
  std::lock_guard<std::mutex> lock(h->mu);
  h->metricIds.insert(id);
  return id;
}

plexus_status apiMetricUpdate(plexus_host* h, int64_t id, const plexus_str* labels,
                              size_t labelCount, double value) {
  {
    std::lock_guard<std::mutex> lock(h->mu);
    if (h->metricIds.count(id) == 0)
      return fail(nullptr, PLEXUS_REJECT, "metric not defined by this component");
  }
  std::vector<std::string> l;
  l.reserve(labelCount);
  for (size_t i = 0; i < labelCount; ++i) l.push_back(text(labels[i]));
  if (!h->runtime->metrics().update(id, l, value)) {
    return fail(nullptr, PLEXUS_REJECT,
                "metric update refused (label count or negative counter increment)");
  }
  return PLEXUS_OK;
}

plexus_status noStore(plexus_call* call, const char* what) {
  return fail(call, PLEXUS_FATAL,
              std::string(what) + " needs a store; this host's config has none (add \"store\")");
}

// An inline perspective runs inside the emitter's transaction, after the emitter's events were
// offered to the inline projections: what it sent would reach no one in order, so it may not.
plexus_status refuseInline(plexus_call* call, const char* what) {
  return fail(call, PLEXUS_REJECT,
              std::string(what) +
                  ": an inline perspective cannot emit, send, schedule or invoke (it runs in the "
                  "emitter's transaction); register it with PLEXUS_REGISTER_PERSPECTIVE instead");
}

plexus_status queue(plexus_call* call, const char* what, const char* kind, plexus_str type,
                    plexus_str stream, plexus_str payload, int64_t deliverAt) {
  if (call->tx == nullptr || call->part == nullptr) return noStore(call, what);
  if (call->projectingInline) return refuseInline(call, what);
  const std::string t = text(type);
  if (t.empty()) return fail(call, PLEXUS_REJECT, std::string(what) + ": empty message type");
  const std::string p = text(payload);
  if (!nlohmann::json::accept(p)) {
    return fail(call, PLEXUS_REJECT, std::string(what) + " " + t + ": payload is not valid JSON");
  }
  plexus::store::Outgoing o;
  plexus::Message& e = o.message;
  e.id = newUuidV7();
  e.kind = kind;
  e.type = t;
  e.stream = stream.size ? text(stream) : call->stream;
  e.correlation = call->correlation;
  e.causation = call->messageId.empty() ? call->requestId : call->messageId;
  e.timestampMs = call->runtime->clock().nowMs();
  e.source = call->runtime->service();
  e.sourceInstance = call->runtime->instance();
  e.traceparent = call->traceparent;
  e.payload = p;
  o.deliverAtMs = deliverAt;
  call->part->outgoing.push_back(std::move(o));
  return PLEXUS_OK;
}

plexus_status apiEmit(plexus_call* c, plexus_str t, plexus_str s, plexus_str p) {
  return queue(c, "emit", "event", t, s, p, 0);
}
plexus_status apiSend(plexus_call* c, plexus_str t, plexus_str s, plexus_str p) {
  return queue(c, "send", "command", t, s, p, 0);
}
plexus_status apiSchedule(plexus_call* c, plexus_str t, plexus_str s, plexus_str p, int64_t at) {
  if (at <= 0) return fail(c, PLEXUS_REJECT, "schedule: deliver_at must be a Unix time in ms");
  return queue(c, "schedule", "command", t, s, p, at);
}

plexus_status apiSql(plexus_call* c, plexus_str statement, const plexus_value* params, size_t n,
                     plexus_row_fn onRow, void* user, int64_t* affected) {
  if (c->tx == nullptr) return noStore(c, "sql");
  std::vector<plexus::Value> values;
  values.reserve(n);
  for (size_t i = 0; i < n; ++i) values.push_back(plexus::Value::fromAbi(params[i]));
  plexus::Rows rows;
  try {
    rows = c->tx->query(text(statement), values, affected);
  } catch (const plexus::store::SqlError& e) {
    return fail(c, e.transient() ? PLEXUS_RETRY : PLEXUS_REJECT, e.what());
  }
  if (onRow != nullptr) {
    std::vector<plexus_value> cols;
    for (const auto& row : rows) {
      cols.clear();
      for (const auto& v : row) cols.push_back(v.toAbi());
      const plexus_status s = onRow(user, cols.data(), cols.size());
      if (s != PLEXUS_OK) return fail(c, s, "row callback stopped the query");
    }
  }
  return PLEXUS_OK;
}

plexus_status apiAfterCommit(plexus_call* call, plexus_after_commit_fn fn, void* user) {
  if (fn == nullptr) return fail(call, PLEXUS_REJECT, "after_commit: null callback");
  call->part->afterCommit.push_back({fn, user});
  return PLEXUS_OK;
}

plexus_status apiSetResult(plexus_call* call, plexus_str json) {
  call->result = text(json);
  return PLEXUS_OK;
}

plexus_status apiRespond(plexus_call* call, int32_t status, plexus_str contentType,
                         plexus_str body) {
  if (!call->isRoute) return fail(call, PLEXUS_REJECT, "respond: not handling an HTTP request");
  if (call->responded) return fail(call, PLEXUS_REJECT, "respond: a response was already set");
  if (status < 100 || status > 599)
    return fail(call, PLEXUS_REJECT, "respond: invalid HTTP status " + std::to_string(status));
  call->responded = true;
  call->httpStatus = status;
  call->contentType = contentType.size ? text(contentType) : "application/json";
  call->body = text(body);
  return PLEXUS_OK;
}

bool headerSafe(const std::string& s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

plexus_status apiAddHeader(plexus_call* call, plexus_str name, plexus_str value) {
  if (!call->isRoute) return fail(call, PLEXUS_REJECT, "add_header: not handling an HTTP request");
  std::string n = text(name), v = text(value);
  if (n.empty() || !headerSafe(n) || !headerSafe(v))
    return fail(call, PLEXUS_REJECT, "add_header: invalid header");
  call->headers.emplace_back(std::move(n), std::move(v));
  return PLEXUS_OK;
}

trace::Span invokeSpan(const Component& receptor, const std::string& type, const std::string& id,
                       const std::string& traceparent) {
  Message e;
  e.id = id;
  e.type = type;
  e.traceparent = traceparent;
  return startHandlerSpan(receptor, e);
}

plexus_status apiInvoke(plexus_call* call, plexus_str type, plexus_str stream, plexus_str payload,
                        void (*onResult)(void*, plexus_str), void* user) {
  if (call->projectingInline) return refuseInline(call, "invoke");
  const std::string t = text(type);
  Component* owner = call->runtime->receptorFor(t);
  if (owner == nullptr)
    return fail(call, PLEXUS_REJECT, "invoke: no receptor for " + t + " in this host");
  Component* receptor = &beginCall(*owner);
  // Ends with the caller's transaction (its after-commit work may run the receptor's code).
  call->part->afterCommit.push_back({&endCallAfterCommit, receptor});
  plexus_call child;
  child.runtime = call->runtime;
  child.host = receptor->host.get();
  child.tx = call->tx;
  child.part = call->part;
  child.stream = stream.size ? text(stream) : call->stream;
  child.correlation = call->correlation;
  child.requestId = call->requestId;
  const std::string id = newUuidV7();
  trace::Span span = invokeSpan(*receptor, t, id, call->traceparent);
  trace::Scope spanScope(span);
  // What the receptor sends continues from its own span.
  child.traceparent = span.context().valid() ? span.traceparent() : call->traceparent;
  child.causation = id;
  child.messageId = id;
  const std::string payloadText = text(payload);
  plexus_message m{};
  m.struct_size = sizeof m;
  m.attempt = 1;
  m.id = view(id);
  m.type = view(t);
  m.stream = view(child.stream);
  m.correlation = view(child.correlation);
  m.causation = view(call->causation);
  m.payload = view(payloadText);
  m.timestamp_unix_ms = call->runtime->clock().nowMs();
  // The receptor runs inside the caller's transaction under a savepoint: when it fails, its SQL,
  // its messages and its after-commit work are undone while the caller goes on.
  const plexus::plugin::Part::Mark mark = call->part->mark();
  if (call->tx != nullptr) {
    try {
      call->tx->savepoint("plexus_invoke");
    } catch (const plexus::store::SqlError& e) {
      return fail(call, e.transient() ? PLEXUS_RETRY : PLEXUS_REJECT, e.what());
    }
  }
  plexus_status s = PLEXUS_FATAL;
  {
    CurrentCall current(&child);
    crash::CallScope crashScope(receptor->plugin->name, receptor->name, "message", t, id);
    s = receptor->handleMessage(receptor->instance, &child, &m);
  }
  if (s == PLEXUS_FATAL) call->runtime->markFatal(receptor->id, child.result);
  if (s == PLEXUS_OK && call->tx != nullptr) {
    // Its events reach the inline perspectives inside its savepoint: their failure is its own.
    Delivery projected = call->runtime->projectInline(*call->part, call->tx);
    if (projected.status != PLEXUS_OK) {
      s = projected.status;
      child.result = std::move(projected.reason);
    }
  }
  if (call->tx != nullptr) {
    try {
      if (s == PLEXUS_OK) {
        call->tx->release("plexus_invoke");
      } else {
        call->tx->rollbackTo("plexus_invoke");
      }
    } catch (const plexus::store::SqlError& e) {
      child.result = e.what();
      s = e.transient() ? PLEXUS_RETRY : PLEXUS_REJECT;
    }
  }
  if (s != PLEXUS_OK) call->part->undoSince(mark);
  if (onResult != nullptr) onResult(user, view(child.result));
  if (s != PLEXUS_OK) call->error = child.result.empty() ? child.error : child.result;
  setOutcome(span, s, child.result.empty() ? child.error : child.result);
  return s;
}

plexus_status apiPost(plexus_host* h, int32_t kind, plexus_str type, plexus_str stream,
                      plexus_str payload) {
  return h->runtime->post(*h, kind, text(type), text(stream), text(payload));
}

plexus_str apiLastError(plexus_call* call) {
  return call != nullptr ? view(call->error) : view(tlsError);
}

const plexus_host_api kApi = [] {
  plexus_host_api a{};
  a.struct_size = sizeof(plexus_host_api);
  a.abi_major = PLEXUS_ABI_MAJOR;
  a.abi_minor = PLEXUS_ABI_MINOR;
  a.log = &apiLog;
  a.config = &apiConfig;
  a.now_unix_ms = &apiNow;
  a.new_id = &apiNewId;
  a.metric_define = &apiMetricDefine;
  a.metric_update = &apiMetricUpdate;
  a.emit = &apiEmit;
  a.send = &apiSend;
  a.schedule = &apiSchedule;
  a.sql = &apiSql;
  a.after_commit = &apiAfterCommit;
  a.set_result = &apiSetResult;
  a.respond = &apiRespond;
  a.add_header = &apiAddHeader;
  a.invoke = &apiInvoke;
  a.last_error = &apiLastError;
  a.post = &apiPost;
  return a;
}();

}  // namespace

const plexus_host_api* hostApi() { return &kApi; }

Runtime::Runtime(Metrics& metrics) : Runtime(metrics, systemClock()) {}
Runtime::Runtime(Metrics& metrics, const Clock& clock)
    : metrics_(metrics), clock_(clock), handlerMetrics_(HandlerMetrics::define(metrics)) {}

Runtime::~Runtime() {
  for (auto it = components_.rbegin(); it != components_.rend(); ++it) {
    if ((*it)->instance != nullptr) (*it)->destroy((*it)->instance);
  }
}

Component::Component() = default;
Component::~Component() = default;

Component& current(Component& c) {
  Component* v = &c;
  while (Component* next = v->successor.load()) v = next;
  return *v;
}

const Component& current(const Component& c) {
  const Component* v = &c;
  while (const Component* next = v->successor.load()) v = next;
  return *v;
}

Component& beginCall(Component& c) {
  for (;;) {
    Component& v = current(c);
    v.inFlight.fetch_add(1);
    // Still serving after the count went up: a reload that replaces it from now on sees the call.
    if (v.successor.load() == nullptr) return v;
    v.inFlight.fetch_sub(1);
  }
}

void endCall(Component& c) { c.inFlight.fetch_sub(1); }

std::vector<std::shared_ptr<LoadedPlugin>> Runtime::plugins() const {
  std::lock_guard<std::mutex> lock(setMu_);
  return plugins_;
}

std::vector<Component*> Runtime::components() const {
  std::lock_guard<std::mutex> lock(setMu_);
  std::vector<Component*> out;
  for (const auto& c : components_) {
    if (c->successor.load() == nullptr) out.push_back(c.get());
  }
  return out;
}

std::vector<std::unique_ptr<Component>> Runtime::componentsOf(
    const std::shared_ptr<LoadedPlugin>& lp, const config::Plugin& pc) {
  std::set<std::string> wanted(pc.components.begin(), pc.components.end());
  std::set<std::string> found;
  auto enabled = [&](const std::string& name) {
    found.insert(name);
    return wanted.empty() || wanted.count(name) > 0;
  };
  const std::string configText = pc.config.dump();
  std::vector<std::unique_ptr<Component>> out;
  auto add = [&](Kind kind, const std::string& name, plexus_create_fn create,
                 plexus_destroy_fn destroy, std::vector<std::string> types) -> Component& {
    auto c = std::make_unique<Component>();
    c->kind = kind;
    c->plugin = lp;
    c->name = name;
    c->id = lp->name + "/" + name;
    c->create = create;
    c->destroy = destroy;
    c->types = std::move(types);
    c->host = std::make_unique<plexus_host>();
    c->host->runtime = this;
    c->host->plugin = lp->name;
    c->host->version = lp->version;
    c->host->component = name;
    c->host->config = configText;
    out.push_back(std::move(c));
    return *out.back();
  };
  for (size_t i = 0; i < lp->receptors.size(); ++i) {
    const auto& r = lp->receptors[i];
    if (!enabled(r.name)) continue;
    Component& c = add(Kind::Receptor, r.name, r.create, r.destroy, lp->receptorTypes[i]);
    c.handleMessage = r.handle;
    c.kinds = lp->receptorKinds[i];
  }
  for (size_t i = 0; i < lp->perspectives.size(); ++i) {
    const auto& p = lp->perspectives[i];
    if (!enabled(p.name)) continue;
    Component& c = add(Kind::Perspective, p.name, p.create, p.destroy, lp->perspectiveTypes[i]);
    c.handleMessage = p.handle;
    c.projectsInline = p.projection == PLEXUS_PROJECTION_INLINE;
  }
  for (const auto& r : lp->routes) {
    if (!enabled(r.name)) continue;
    Component& c = add(Kind::Route, r.name, r.create, r.destroy, {});
    c.handleRequest = r.handle;
    c.method = r.method;
    c.pathTemplate = r.path;
  }
  for (const auto& w : wanted) {
    if (found.count(w) == 0) {
      throw PluginError(pc.path, "config /plugins/" + std::to_string(pc.index) +
                                     "/components names \"" + w + "\", which plugin " + lp->name +
                                     " does not have");
    }
  }
  return out;
}

void Runtime::create(Component& c) {
  crash::CallScope crashScope(c.plugin->name, c.name, "create", "", "");
  c.instance = c.create(&kApi, c.host.get());
  if (c.instance == nullptr) {
    throw PluginError(c.plugin->path, "component \"" + c.name +
                                          "\" failed to start (create returned null; see the log)");
  }
}

std::vector<Component*> Runtime::replace(const std::shared_ptr<LoadedPlugin>& lp,
                                         std::vector<std::unique_ptr<Component>> fresh) {
  std::lock_guard<std::mutex> lock(setMu_);
  std::vector<Component*> replaced;
  for (auto& c : fresh) {
    for (const auto& old : components_) {
      if (old->successor.load() == nullptr && old->id == c->id && old->kind == c->kind) {
        old->successor.store(c.get());
        replaced.push_back(old.get());
        break;
      }
    }
    components_.push_back(std::move(c));
  }
  for (auto& p : plugins_) {
    if (p->name == lp->name) p = lp;
  }
  indexInline();
  return replaced;
}

void Runtime::start(const config::Config& config) {
  service_ = config.service;
  crash::install(service_);  // a plugin that crashes the process leaves a log line naming itself
  instance_ = Poco::Environment::nodeName() + "-" + std::to_string(Poco::Process::id());
  std::map<std::string, std::string> routeOwners;
  // plugin_dir / plugin_dirs written in the config are the allow-list: libraries must sit
  // directly in one of them, and every one of them passes the directory checks.
  const std::vector<std::string> allowList =
      config.pluginDirGiven ? config.pluginDirs : std::vector<std::string>{};
  checkPluginDirs(allowList);
  for (const auto& pc : config.plugins) {
    auto lp = load(pc.path, pc.sha256, allowList);
    for (const auto& other : plugins_) {
      if (other->name == lp->name)
        throw PluginError(pc.path,
                          "plugin name \"" + lp->name + "\" is already loaded from " + other->path);
    }
    for (auto& owned : componentsOf(lp, pc)) {
      Component& c = *owned;
      components_.push_back(std::move(owned));
      if (c.kind == Kind::Receptor) {
        commandOwners_.add(pc.path, c, c.types, c.kinds);
      } else if (c.kind == Kind::Route) {
        const std::string key = c.method + " " + c.pathTemplate;
        auto [it, fresh] = routeOwners.emplace(key, c.id);
        if (!fresh)
          throw PluginError(pc.path, "route " + key + " is already served by " + it->second);
        routes_.push_back(RouteBinding{c.method, c.pathTemplate, &c});
      }
    }
    plugins_.push_back(lp);
    log::write(
        log::Level::Info, "plugin loaded",
        nlohmann::json{{"plugin", lp->name},
                       {"version", lp->version},
                       {"path", lp->path},
                       {"abi", std::to_string(lp->abiMajor) + "." + std::to_string(lp->abiMinor)}});
  }
  for (auto& c : components_) create(*c);
  indexInline();
}

Component* Runtime::receptorFor(const std::string& type) const {
  return commandOwners_.owner(type);
}

void Runtime::markFatal(const std::string& who, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(failureMu_);
    if (failure_.empty()) failure_ = who + ": " + (reason.empty() ? "returned FATAL" : reason);
  }
  failed_ = true;
  log::write(log::Level::Error, "component reported FATAL; host is not ready",
             nlohmann::json{{"component", who}, {"reason", reason}});
}

std::string Runtime::failure() const {
  std::lock_guard<std::mutex> lock(failureMu_);
  return failure_;
}

void runAfterCommit(std::vector<AfterCommit>& callbacks, bool committed) {
  for (auto& cb : callbacks) cb.fn(cb.user, committed ? 1 : 0);
  callbacks.clear();
}

void Runtime::attachStore(store::Store* store, std::function<void()> committed) {
  store_ = store;
  committed_ = std::move(committed);
}

namespace {

HttpResponse unavailable(const std::string& requestId, const std::string& error) {
  log::write(log::Level::Warn, "store unavailable for a request",
             nlohmann::json{{"request_id", requestId}, {"error", error}});
  HttpResponse out;
  out.status = 503;
  out.body = nlohmann::json{{"error", "store unavailable, retry later"}}.dump();
  out.headers.emplace_back("Retry-After", "1");
  return out;
}

// The response of a route hook that did not call respond(): 204, or an error by status.
HttpResponse byStatus(plexus_status s, const std::string& reason) {
  HttpResponse out;
  switch (s) {
    case PLEXUS_OK:
      out.status = 204;
      return out;
    case PLEXUS_REJECT:
      out.status = 400;
      break;
    case PLEXUS_RETRY:
      out.status = 503;
      out.headers.emplace_back("Retry-After", "1");
      break;
    default:
      out.status = 500;
      break;
  }
  const std::string message = out.status == 400   ? reason
                              : out.status == 503 ? "temporarily unavailable, retry later"
                                                  : "internal error";
  out.body = nlohmann::json{{"error", message}}.dump();
  return out;
}

plexus_request requestView(const HttpRequest& req, std::vector<plexus_pair>& params,
                           std::vector<plexus_pair>& headers) {
  params.reserve(req.params.size());
  for (const auto& [k, v] : req.params) params.push_back({view(k), view(v)});
  headers.reserve(req.headers.size());
  for (const auto& [k, v] : req.headers) headers.push_back({view(k), view(v)});
  plexus_request r{};
  r.struct_size = sizeof r;
  r.method = view(req.method);
  r.path = view(req.path);
  r.query = view(req.query);
  r.body = view(req.body);
  r.request_id = view(req.requestId);
  r.params = params.data();
  r.param_count = params.size();
  r.headers = headers.data();
  r.header_count = headers.size();
  return r;
}

}  // namespace

HttpResponse Runtime::handle(const RouteBinding& route, const HttpRequest& req) {
  Component& c = beginCall(*route.component);
  struct End {
    Component& c;
    ~End() { endCall(c); }  // after the commit and its after-commit work
  } end{c};
  std::unique_ptr<UnitOfWork> work;
  if (store_ != nullptr) {
    try {
      work = std::make_unique<UnitOfWork>(*store_, clock_, committed_);
    } catch (const store::SqlError& e) {
      return unavailable(req.requestId, e.what());
    }
  }
  Part part;
  plexus_call call;
  call.runtime = this;
  call.host = c.host.get();
  call.tx = work ? &work->tx() : nullptr;
  call.part = &part;
  call.isRoute = true;
  call.requestId = req.requestId;
  call.correlation = req.requestId;
  call.causation = req.requestId;
  for (const auto& [k, v] : req.headers) {
    if (k.size() == 11 && Poco::icompare(k, "traceparent") == 0) call.traceparent = v;
  }
  // The server span of this request (http/server.cpp) is the parent of what the route sends.
  if (trace::current().valid()) call.traceparent = trace::current().traceparent();
  trace::Span txSpan = work ? startTransactionSpan(*store_) : trace::Span();
  std::optional<trace::Scope> txScope;
  if (work) txScope.emplace(txSpan);
  std::vector<plexus_pair> params, headers;
  const plexus_request r = requestView(req, params, headers);

  plexus_status s = PLEXUS_FATAL;
  {
    CurrentCall current(&call);
    crash::CallScope crashScope(c.plugin->name, c.name, "route",
                                route.method + " " + route.pathTemplate, req.requestId);
    s = c.handleRequest(c.instance, &call, &r);
  }
  if (s == PLEXUS_FATAL) markFatal(c.id, call.result.empty() ? call.error : call.result);
  if (s == PLEXUS_OK && work) {
    // What the route (and not yet an invoked receptor) emitted, projected inline. A failure is
    // the host's, not the client's: 503 when it may pass, else 500; never the route's response.
    const Delivery projected = projectInline(part, &work->tx());
    if (projected.status != PLEXUS_OK) {
      log::write(log::Level::Warn, "inline projection failed; the request is rolled back",
                 nlohmann::json{{"request_id", req.requestId}, {"error", projected.reason}});
      s = projected.status == PLEXUS_RETRY ? PLEXUS_RETRY : PLEXUS_FATAL;
      call.responded = false;
      call.result.clear();
    }
  }
  if (!work) {
    runAfterCommit(part.afterCommit, s == PLEXUS_OK);  // nothing to commit
  } else if (s == PLEXUS_OK) {
    try {
      work->keep(std::move(part));
      work->commit();
    } catch (const store::SqlError& e) {
      log::write(log::Level::Warn, "commit failed",
                 nlohmann::json{{"request_id", req.requestId}, {"error", e.what()}});
      call.responded = false;
      call.error = "commit failed";
      s = PLEXUS_RETRY;
      txSpan.setStatus(trace::StatusCode::Error, e.what());
    }
  } else {
    work->discard(std::move(part));
    txSpan.setAttribute("db.rolled_back", true);
  }
  work.reset();
  txScope.reset();
  txSpan.end();

  HttpResponse out;
  if (call.responded) {
    out.status = call.httpStatus;
    out.contentType = call.contentType;
    out.body = std::move(call.body);
  } else {
    out = byStatus(s, call.result.empty() ? call.error : call.result);
  }
  for (auto& h : call.headers) out.headers.push_back(std::move(h));
  return out;
}

plexus_status Runtime::post(plexus_host& h, int32_t kind, const std::string& type,
                            const std::string& stream, const std::string& payload) {
  (void)h;
  if (store_ == nullptr)
    return fail(nullptr, PLEXUS_FATAL, "post needs a store; this host's config has none");
  if (type.empty() || (kind != 0 && kind != 1))
    return fail(nullptr, PLEXUS_REJECT, "post: bad kind or empty type");
  if (!nlohmann::json::accept(payload))
    return fail(nullptr, PLEXUS_REJECT, "post " + type + ": payload is not JSON");
  Part part;
  store::Outgoing& o = part.outgoing.emplace_back();
  Message& e = o.message;
  e.id = newUuidV7();
  e.kind = kind == 1 ? "event" : "command";
  e.type = type;
  e.stream = stream;
  e.correlation = e.id;
  e.timestampMs = clock_.nowMs();
  e.source = service_;
  e.sourceInstance = instance_;
  e.traceparent = trace::current().traceparent();  // after-commit work of a traced handler
  e.payload = payload;
  try {
    UnitOfWork work(*store_, clock_, committed_);
    Delivery projected = projectInline(part, &work.tx());
    if (projected.status != PLEXUS_OK) {
      work.discard(std::move(part));
      return fail(nullptr, projected.status, std::move(projected.reason));
    }
    work.keep(std::move(part));
    work.commit();
  } catch (const store::SqlError& err) {
    return fail(nullptr, err.transient() ? PLEXUS_RETRY : PLEXUS_REJECT, err.what());
  }
  return PLEXUS_OK;
}

Delivery Runtime::deliver(Component& component, const Message& e, store::Transaction* tx,
                          Part& part) {
  Delivery d = run(component, e, tx, part, false);
  if (d.status == PLEXUS_OK && component.kind == Kind::Receptor && tx != nullptr) {
    Delivery projected = projectInline(part, tx);
    if (projected.status != PLEXUS_OK) {
      d.status = projected.status;
      d.reason = std::move(projected.reason);
    }
  }
  return d;
}

Delivery Runtime::run(Component& serving, const Message& e, store::Transaction* tx, Part& part,
                      bool projectingInline) {
  Component& c = beginCall(serving);
  Delivery d;
  d.version = c.plugin->version;
  plexus_call call;
  call.runtime = this;
  call.host = c.host.get();
  call.tx = tx;
  call.part = &part;
  call.projectingInline = projectingInline;
  call.messageId = e.id;
  call.stream = e.stream;
  call.correlation = e.correlation.empty() ? e.id : e.correlation;
  call.causation = e.id;
  // Inside the handler span (dispatch), what this handler sends continues from it.
  call.traceparent = trace::current().valid() ? trace::current().traceparent() : e.traceparent;
  plexus_message m{};
  m.struct_size = sizeof m;
  m.attempt = e.attempt;
  m.id = view(e.id);
  m.type = view(e.type);
  m.stream = view(e.stream);
  m.correlation = view(call.correlation);
  m.causation = view(e.causation);
  m.traceparent = view(call.traceparent);
  m.payload = view(e.payload);
  m.timestamp_unix_ms = e.timestampMs;
  // A rebuild's switch of this perspective's read model waits for this transaction (rebuild/).
  if (tx != nullptr && c.kind == Kind::Perspective && store_ != nullptr)
    store_->dialect().shareHandlerLock(*tx, c.id);
  {
    CurrentCall current(&call);
    crash::CallScope crashScope(c.plugin->name, c.name, "message", e.type, e.id);
    d.status = c.handleMessage(c.instance, &call, &m);
  }
  part.afterCommit.push_back({&endCallAfterCommit, &c});  // after the handler's own callbacks
  if (d.status != PLEXUS_OK) {
    d.reason = call.result.empty() ? call.error : call.result;
    if (d.reason.empty()) d.reason = "handler returned status " + std::to_string(d.status);
  }
  if (d.status == PLEXUS_FATAL) markFatal(c.id, d.reason);
  if (d.status != PLEXUS_OK && d.status != PLEXUS_RETRY && d.status != PLEXUS_REJECT &&
      d.status != PLEXUS_FATAL) {
    d.reason = "handler returned an invalid status " + std::to_string(d.status);
    d.status = PLEXUS_REJECT;
  }
  return d;
}

trace::Span startHandlerSpan(const Component& c, const Message& e) {
  trace::Span span = trace::startSpan("handle " + e.type, trace::SpanKind::Internal, e.traceparent);
  if (span.recording()) {
    span.setAttribute("plexus.plugin", c.plugin->name);
    span.setAttribute("plexus.plugin.version", current(c).plugin->version);
    span.setAttribute("plexus.component", c.name);
    span.setAttribute("messaging.message.type", e.type);
    span.setAttribute("messaging.message.id", e.id);
    if (e.attempt > 1) span.setAttribute("plexus.attempt", static_cast<int64_t>(e.attempt));
  }
  return span;
}

void setOutcome(trace::Span& span, plexus_status status, const std::string& reason) {
  const char* outcome = "fatal";
  if (status == PLEXUS_OK) outcome = "ok";
  if (status == PLEXUS_RETRY) outcome = "retry";
  if (status == PLEXUS_REJECT) outcome = "reject";
  span.setAttribute("plexus.outcome", std::string(outcome));
  if (status != PLEXUS_OK) span.setStatus(trace::StatusCode::Error, reason);
}

trace::Span startTransactionSpan(const store::Store& store) {
  trace::Span span = trace::startSpan("db.transaction", trace::SpanKind::Internal);
  span.setAttribute("db.system", std::string(store.dialect().name()));
  return span;
}

}  // namespace plexus::plugin
