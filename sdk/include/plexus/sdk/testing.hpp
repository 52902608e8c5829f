#pragma once
// Test fakes: unit-test receptors, perspectives and routes without a host. The fake implements
// the same C host API table the real host hands out and drives components through the same
// SDK barriers, so a handler behaves here as it does when loaded.
//
//   plexus::testing::FakeHost host(R"({"timeout_seconds": 5})");
//   auto receptor = host.create<CreateOrder>();
//   auto out = host.handle(*receptor, plexus::testing::message("CreateOrder", payload, "order-1"));
//   EXPECT_EQ(out.status, plexus::Status::Ok);
//   EXPECT_EQ(host.emitted().at(0).type, "OrderCreated");
//
// SQL: install `host.onSql(fn)` to answer statements (the fake records every statement in
// `statements()`); by default statements succeed with no rows.

#include <plexus/sdk/plugin.hpp>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace plexus::testing {

struct Outgoing {
  std::string type;
  std::string stream;
  Json payload;
  int64_t deliverAtMs = 0;  // scheduled messages only
};

struct Statement {
  std::string sql;
  std::vector<Value> params;
};

struct SqlAnswer {
  Status status = Status::Ok;
  Rows rows;
  int64_t affected = 0;
  std::string error;
};

struct HandleOutcome {
  Status status;
  std::string detail;  // result JSON or failure reason
};

struct HttpOutcome {
  Status status;
  int httpStatus = 0;
  std::string contentType;
  std::string body;
  std::map<std::string, std::string> headers;
  Json json() const { return Json::parse(body); }
};

// Builds a message as the host would deliver it.
struct TestMessage {
  std::string id = "00000000-0000-7000-8000-000000000001";
  std::string type;
  std::string stream;
  std::string correlation = "corr-1";
  std::string causation;
  std::string traceparent;
  std::string payload;
  uint32_t attempt = 1;
  int64_t timestampMs = 1767225600000;  // 2026-01-01T00:00:00Z
};

inline TestMessage message(std::string type, const Json& payload, std::string stream = "stream-1") {
  TestMessage m;
  m.type = std::move(type);
  m.payload = payload.dump();
  m.stream = std::move(stream);
  return m;
}

struct TestRequest {
  std::string method = "GET";
  std::string path = "/";
  std::string query;
  std::string body;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> headers;
};

template <class T>
class Instance {
 public:
  Instance(void* p, void (*destroy)(void*)) : p_(p), destroy_(destroy) {}
  ~Instance() {
    if (p_ != nullptr) destroy_(p_);
  }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  void* raw() const { return p_; }
  T& component() { return static_cast<detail::Holder<T>*>(p_)->component; }

 private:
  void* p_;
  void (*destroy_)(void*);
};

class FakeHost {
 public:
  explicit FakeHost(std::string configJson = "{}") : config_(std::move(configJson)) {
    api_.struct_size = sizeof(plexus_host_api);
    api_.abi_major = PLEXUS_ABI_MAJOR;
    api_.abi_minor = PLEXUS_ABI_MINOR;
    api_.log = &FakeHost::logFn;
    api_.config = &FakeHost::configFn;
    api_.now_unix_ms = &FakeHost::nowFn;
    api_.new_id = &FakeHost::newIdFn;
    api_.metric_define = &FakeHost::metricDefineFn;
    api_.metric_update = &FakeHost::metricUpdateFn;
    api_.emit = &FakeHost::emitFn;
    api_.send = &FakeHost::sendFn;
    api_.schedule = &FakeHost::scheduleFn;
    api_.sql = &FakeHost::sqlFn;
    api_.after_commit = &FakeHost::afterCommitFn;
    api_.set_result = &FakeHost::setResultFn;
    api_.respond = &FakeHost::respondFn;
    api_.add_header = &FakeHost::addHeaderFn;
    api_.invoke = &FakeHost::invokeFn;
    api_.last_error = &FakeHost::lastErrorFn;
    api_.post = &FakeHost::postFn;
  }

  // Test controls.
  void setNowMs(int64_t ms) { now_ = ms; }
  void advanceMs(int64_t ms) { now_ += ms; }
  void onSql(std::function<SqlAnswer(const Statement&)> fn) { sql_ = std::move(fn); }
  // Answers `invoke(type, ...)` from a route (the real host runs the local receptor).
  void onInvoke(std::function<HandleOutcome(const std::string& type, const Json& payload)> fn) {
    invoke_ = std::move(fn);
  }

  // What the components did. Messages of a call that did not return OK are discarded, as the
  // host rolls its transaction back.
  const std::vector<Outgoing>& emitted() const { return emitted_; }
  const std::vector<Outgoing>& sent() const { return sent_; }
  const std::vector<Outgoing>& scheduled() const { return scheduled_; }
  // Messages posted outside hooks (Host::post / postEvent), committed at once.
  const std::vector<Outgoing>& posted() const { return posted_; }
  const std::vector<Statement>& statements() const { return statements_; }
  const std::vector<std::string>& logs() const { return logs_; }
  void clearOutgoing() {
    emitted_.clear();
    sent_.clear();
    scheduled_.clear();
    statements_.clear();
  }
  // Sum of counter increments / last gauge value / sum of observations, by name and labels.
  double metric(const std::string& name, const std::vector<std::string>& labels = {}) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = metricValues_.find(key(name, labels));
    return it == metricValues_.end() ? 0.0 : it->second;
  }

  template <class T>
  std::unique_ptr<Instance<T>> create() {
    void* p = detail::create<T>(&api_, handle());
    if (p == nullptr) throw std::runtime_error("component construction failed: " + lastLog());
    return std::make_unique<Instance<T>>(p, &detail::destroy<T>);
  }

  // Runs a receptor or perspective on one message, as one transaction.
  template <class T>
  HandleOutcome handle(Instance<T>& instance, const TestMessage& m) {
    Call call;
    call.host = this;
    plexus_message abi{};
    abi.struct_size = sizeof(plexus_message);
    abi.attempt = m.attempt;
    abi.id = str(m.id);
    abi.type = str(m.type);
    abi.stream = str(m.stream);
    abi.correlation = str(m.correlation);
    abi.causation = str(m.causation);
    abi.traceparent = str(m.traceparent);
    abi.payload = str(m.payload);
    abi.timestamp_unix_ms = m.timestampMs;
    call.stream = m.stream;
    plexus_status s = detail::handleMessage<T>(instance.raw(), call.abi(), &abi);
    finish(call, s);
    return HandleOutcome{static_cast<Status>(s), call.result};
  }

  template <class T>
  HttpOutcome request(Instance<T>& instance, const TestRequest& r) {
    Call call;
    call.host = this;
    std::vector<plexus_pair> params, headers;
    for (const auto& [k, v] : r.params) params.push_back({str(k), str(v)});
    for (const auto& [k, v] : r.headers) headers.push_back({str(k), str(v)});
    const std::string requestId = "req-1";
    plexus_request abi{};
    abi.struct_size = sizeof(plexus_request);
    abi.method = str(r.method);
    abi.path = str(r.path);
    abi.query = str(r.query);
    abi.body = str(r.body);
    abi.request_id = str(requestId);
    abi.params = params.data();
    abi.param_count = params.size();
    abi.headers = headers.data();
    abi.header_count = headers.size();
    plexus_status s = detail::handleRequest<T>(instance.raw(), call.abi(), &abi);
    finish(call, s);
    HttpOutcome out{static_cast<Status>(s), call.httpStatus, call.contentType, call.body,
                    call.headers};
    return out;
  }

 private:
  struct Call {
    FakeHost* host = nullptr;
    std::string stream;
    std::string result;
    std::string error;
    std::vector<Outgoing> emitted, sent, scheduled;
    std::vector<std::pair<plexus_after_commit_fn, void*>> afterCommit;
    int httpStatus = 0;
    std::string contentType, body;
    std::map<std::string, std::string> headers;
    plexus_call* abi() { return reinterpret_cast<plexus_call*>(this); }
  };
  static Call& call(plexus_call* c) { return *reinterpret_cast<Call*>(c); }
  static FakeHost& self(plexus_host* h) { return *reinterpret_cast<FakeHost*>(h); }
  plexus_host* handle() { return reinterpret_cast<plexus_host*>(this); }

  void finish(Call& c, plexus_status s) {
    const bool commit = s == PLEXUS_OK;
    if (commit) {
      emitted_.insert(emitted_.end(), c.emitted.begin(), c.emitted.end());
      sent_.insert(sent_.end(), c.sent.begin(), c.sent.end());
      scheduled_.insert(scheduled_.end(), c.scheduled.begin(), c.scheduled.end());
    }
    for (auto& [fn, user] : c.afterCommit) fn(user, commit ? 1 : 0);
  }

  static std::string key(const std::string& name, const std::vector<std::string>& labels) {
    std::string k = name;
    for (const auto& l : labels) k += "|" + l;
    return k;
  }
  std::string lastLog() const { return logs_.empty() ? std::string() : logs_.back(); }

  static void logFn(plexus_host* h, plexus_log_level, plexus_str m) {
    auto& s = self(h);
    std::lock_guard<std::mutex> lock(s.mu_);
    s.logs_.emplace_back(view(m));
  }
  static plexus_str configFn(plexus_host* h) { return str(self(h).config_); }
  static int64_t nowFn(plexus_host* h) { return self(h).now_; }
  static void newIdFn(plexus_host* h, char out[37]) {
    auto& s = self(h);
    std::lock_guard<std::mutex> lock(s.mu_);
    // Deterministic ids in the UUIDv7 layout (version 7, variant 8) with a zero timestamp and a
    // counter in the last group: 00000000-0000-7000-8000-000000000001, ...002, ... They sort in
    // creation order like the host's UUIDv7s; they do not carry the time.
    ++s.idCounter_;
    std::snprintf(out, 37, "00000000-0000-7000-8000-%012llx",
                  static_cast<unsigned long long>(s.idCounter_));
  }
  static int64_t metricDefineFn(plexus_host* h, plexus_metric_kind kind, plexus_str name,
                                plexus_str, const plexus_str* labels, size_t n, const double*,
                                size_t) {
    auto& s = self(h);
    std::lock_guard<std::mutex> lock(s.mu_);
    std::string nm(view(name));
    if (kind == PLEXUS_METRIC_COUNTER &&
        (nm.size() < 6 || nm.compare(nm.size() - 6, 6, "_total") != 0)) {
      threadError() = "counter names must end in _total";
      return 0;
    }
    s.metricDefs_.push_back({kind, nm, n});
    (void)labels;
    return static_cast<int64_t>(s.metricDefs_.size());
  }
  static plexus_status metricUpdateFn(plexus_host* h, int64_t id, const plexus_str* labels,
                                      size_t n, double v) {
    auto& s = self(h);
    std::lock_guard<std::mutex> lock(s.mu_);
    if (id < 1 || static_cast<size_t>(id) > s.metricDefs_.size()) return PLEXUS_REJECT;
    const auto& def = s.metricDefs_[static_cast<size_t>(id - 1)];
    if (def.labelCount != n) return PLEXUS_REJECT;
    std::vector<std::string> l;
    for (size_t i = 0; i < n; ++i) l.emplace_back(view(labels[i]));
    double& slot = s.metricValues_[key(def.name, l)];
    if (def.kind == PLEXUS_METRIC_GAUGE) {
      slot = v;
    } else {
      slot += v;
    }
    return PLEXUS_OK;
  }
  static Outgoing out(Call& c, plexus_str type, plexus_str stream, plexus_str payload, int64_t at) {
    return Outgoing{std::string(view(type)), stream.size ? std::string(view(stream)) : c.stream,
                    Json::parse(view(payload)), at};
  }
  static plexus_status emitFn(plexus_call* cp, plexus_str t, plexus_str st, plexus_str p) {
    auto& c = call(cp);
    c.emitted.push_back(out(c, t, st, p, 0));
    return PLEXUS_OK;
  }
  static plexus_status sendFn(plexus_call* cp, plexus_str t, plexus_str st, plexus_str p) {
    auto& c = call(cp);
    c.sent.push_back(out(c, t, st, p, 0));
    return PLEXUS_OK;
  }
  static plexus_status scheduleFn(plexus_call* cp, plexus_str t, plexus_str st, plexus_str p,
                                  int64_t at) {
    auto& c = call(cp);
    c.scheduled.push_back(out(c, t, st, p, at));
    return PLEXUS_OK;
  }
  static plexus_status sqlFn(plexus_call* cp, plexus_str sql, const plexus_value* params, size_t n,
                             plexus_row_fn onRow, void* user, int64_t* affected) {
    auto& c = call(cp);
    Statement st{std::string(view(sql)), {}};
    for (size_t i = 0; i < n; ++i) st.params.push_back(Value::fromAbi(params[i]));
    c.host->statements_.push_back(st);
    SqlAnswer a = c.host->sql_ ? c.host->sql_(st) : SqlAnswer{};
    if (a.status != Status::Ok) {
      c.error = a.error;
      return static_cast<plexus_status>(a.status);
    }
    if (affected != nullptr) *affected = a.affected;
    if (onRow != nullptr) {
      for (const auto& row : a.rows) {
        std::vector<plexus_value> cols;
        for (const auto& v : row) cols.push_back(v.toAbi());
        plexus_status s = onRow(user, cols.data(), cols.size());
        if (s != PLEXUS_OK) return s;
      }
    }
    return PLEXUS_OK;
  }
  static plexus_status afterCommitFn(plexus_call* cp, plexus_after_commit_fn fn, void* user) {
    call(cp).afterCommit.emplace_back(fn, user);
    return PLEXUS_OK;
  }
  static plexus_status setResultFn(plexus_call* cp, plexus_str json) {
    call(cp).result.assign(view(json));
    return PLEXUS_OK;
  }
  static plexus_status respondFn(plexus_call* cp, int32_t status, plexus_str ct, plexus_str body) {
    auto& c = call(cp);
    c.httpStatus = status;
    c.contentType.assign(view(ct));
    c.body.assign(view(body));
    return PLEXUS_OK;
  }
  static plexus_status addHeaderFn(plexus_call* cp, plexus_str n, plexus_str v) {
    call(cp).headers[std::string(view(n))] = std::string(view(v));
    return PLEXUS_OK;
  }
  static plexus_status invokeFn(plexus_call* cp, plexus_str type, plexus_str, plexus_str payload,
                                void (*onResult)(void*, plexus_str), void* user) {
    auto& c = call(cp);
    if (!c.host->invoke_) {
      c.error = "no invoke handler installed in FakeHost";
      return PLEXUS_FATAL;
    }
    HandleOutcome o = c.host->invoke_(std::string(view(type)), Json::parse(view(payload)));
    if (onResult != nullptr) onResult(user, str(o.detail));
    return static_cast<plexus_status>(o.status);
  }
  static plexus_status postFn(plexus_host* h, int32_t kind, plexus_str type, plexus_str stream,
                              plexus_str payload) {
    auto& s = self(h);
    std::lock_guard<std::mutex> lock(s.mu_);
    Outgoing o{std::string(view(type)), std::string(view(stream)), Json::parse(view(payload)), 0};
    (kind == 1 ? s.emitted_ : s.posted_).push_back(std::move(o));
    return PLEXUS_OK;
  }
  static plexus_str lastErrorFn(plexus_call* cp) {
    if (cp == nullptr) return str(threadError());
    return str(call(cp).error);
  }
  static std::string& threadError() {
    thread_local std::string e;
    return e;
  }

  struct MetricDef {
    plexus_metric_kind kind;
    std::string name;
    size_t labelCount;
  };

  plexus_host_api api_{};
  std::string config_;
  int64_t now_ = 1767225600000;  // 2026-01-01T00:00:00Z
  uint64_t idCounter_ = 0;
  std::function<SqlAnswer(const Statement&)> sql_;
  std::function<HandleOutcome(const std::string&, const Json&)> invoke_;
  std::vector<Outgoing> emitted_, sent_, scheduled_, posted_;
  std::vector<Statement> statements_;
  std::vector<std::string> logs_;
  std::vector<MetricDef> metricDefs_;
  std::map<std::string, double> metricValues_;
  mutable std::mutex mu_;
};

}  // namespace plexus::testing
