#pragma once
// The Plexus C++ SDK: write receptors, perspectives and routes in ordinary C++; the SDK turns them
// into the C descriptors of plexus/abi/plugin_abi.h and puts an exception barrier in every hook.
//
//   class CreateOrder final : public plexus::Receptor {
//    public:
//     plexus::Result handle(plexus::Context& ctx, const plexus::Message& cmd) override { ... }
//   };
//   PLEXUS_REGISTER_RECEPTOR(CreateOrder, plexus::command("CreateOrder"));
//   PLEXUS_PLUGIN("orders", "1.0.0");
//
// Components are constructed by the host after the plugin is loaded (never in a static
// constructor). A component class may take `plexus::Host&` in its constructor to read its config
// and define metrics. Threading: `handle` may run concurrently for different streams, so keep
// per-call state on the stack and guard shared members.

#include <plexus/abi/plugin_abi.h>
#include <plexus/sdk/types.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace plexus {

using Json = nlohmann::json;

// Does the host's API table contain the given member? (Tables only grow at the end.)
#define PLEXUS_API_HAS(api, member)                                                   \
  ((api) != nullptr &&                                                                \
   offsetof(plexus_host_api, member) + sizeof((api)->member) <= (api)->struct_size && \
   (api)->member != nullptr)

namespace detail {

// The library's sentence without its "[json.exception.type_error.302] " tag.
inline std::string jsonSentence(const Json::exception& e) {
  std::string message = e.what();
  const size_t tag = message.find("] ");
  if (message.rfind("[json.exception.", 0) == 0 && tag != std::string::npos)
    message.erase(0, tag + 2);
  return message;
}

// What is wrong with JSON `text`, in the terms of whoever sent it ("request body", "payload of
// CreateOrder"), never the JSON library's internal message ("[json.exception.parse_error.101]").
inline std::string jsonError(std::string_view what, std::string_view text,
                             const Json::exception& e) {
  const std::string subject(what);
  if (const auto* pe = dynamic_cast<const Json::parse_error*>(&e)) {
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
      return subject + " is empty: send a JSON document";
    if (pe->byte == 0 || pe->byte > text.size())
      return subject + " ends before its JSON is complete (" + std::to_string(text.size()) +
             " bytes)";
    const size_t at = pe->byte - 1;
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    const auto c = static_cast<unsigned char>(text[at]);
    std::string found;
    if (c >= 0x20 && c < 0x7f) {
      found = std::string("'") + static_cast<char>(c) + "'";
    } else {
      static const char kHex[] = "0123456789abcdef";
      found = std::string("byte 0x") + kHex[c >> 4] + kHex[c & 15] +
              " (strings must be UTF-8, control characters escaped)";
    }
    return subject + " is not valid JSON: unexpected " + found + " at line " +
           std::to_string(line) + ", column " + std::to_string(column);
  }
  if (e.id == 406) return subject + " holds a number too large to read";
  return subject + ": " + jsonSentence(e);
}

}  // namespace detail

enum class LogLevel : int32_t {
  Debug = PLEXUS_LOG_DEBUG,
  Info = PLEXUS_LOG_INFO,
  Warn = PLEXUS_LOG_WARN,
  Error = PLEXUS_LOG_ERROR,
};

// A metric handle (counter, gauge or histogram) defined through the host registry.
class Metric {
 public:
  Metric() = default;
  Metric(const plexus_host_api* api, plexus_host* host, int64_t id)
      : api_(api), host_(host), id_(id) {}
  // Counter: add `v`; gauge: set to `v`; histogram: observe `v`. Label values in definition order.
  void update(double v, std::initializer_list<std::string_view> labels = {}) const {
    if (id_ == 0) return;
    std::vector<plexus_str> l;
    l.reserve(labels.size());
    for (auto s : labels) l.push_back(str(s));
    api_->metric_update(host_, id_, l.data(), l.size(), v);
  }
  void increment(std::initializer_list<std::string_view> labels = {}) const { update(1.0, labels); }
  bool valid() const { return id_ != 0; }

 private:
  const plexus_host_api* api_ = nullptr;
  plexus_host* host_ = nullptr;
  int64_t id_ = 0;
};

// Instance-scoped host services: config, logging, clock, ids, metrics. Thread-safe.
class Host {
 public:
  Host(const plexus_host_api* api, plexus_host* host) : api_(api), host_(host) {}

  const plexus_host_api* api() const { return api_; }
  plexus_host* handle() const { return host_; }

  // The plugin's config object (an empty object when the host config gives none).
  Json config() const {
    auto text = view(api_->config(host_));
    if (text.empty()) return Json::object();
    return Json::parse(text);
  }
  void log(LogLevel level, std::string_view message) const {
    api_->log(host_, static_cast<plexus_log_level>(level), str(message));
  }
  int64_t nowMs() const { return api_->now_unix_ms(host_); }
  std::string newId() const {
    char buf[37] = {};
    api_->new_id(host_, buf);
    return std::string(buf, 36);
  }
  // Sends a command / emits an event outside any hook, in a transaction of its own (for
  // after-commit work such as recording that an email went out). Throws HostError on failure.
  void post(std::string_view commandType, const Json& payload, std::string_view stream) const {
    postKind(0, commandType, payload, stream);
  }
  void postEvent(std::string_view eventType, const Json& payload, std::string_view stream) const {
    postKind(1, eventType, payload, stream);
  }

  Metric counter(std::string_view name, std::string_view help,
                 std::vector<std::string> labels = {}) const {
    return define(PLEXUS_METRIC_COUNTER, name, help, labels, {});
  }
  Metric gauge(std::string_view name, std::string_view help,
               std::vector<std::string> labels = {}) const {
    return define(PLEXUS_METRIC_GAUGE, name, help, labels, {});
  }
  Metric histogram(std::string_view name, std::string_view help,
                   std::vector<std::string> labels = {}, std::vector<double> buckets = {}) const {
    return define(PLEXUS_METRIC_HISTOGRAM, name, help, labels, buckets);
  }

 private:
  void postKind(int32_t kind, std::string_view type, const Json& payload,
                std::string_view stream) const {
    if (!PLEXUS_API_HAS(api_, post))
      throw HostError(Status::Fatal, "host too old: post needs ABI 1.1");
    const std::string text = payload.dump();
    const plexus_status s = api_->post(host_, kind, str(type), str(stream), str(text));
    if (s != PLEXUS_OK) {
      throw HostError(static_cast<Status>(s), "post " + std::string(type) + " failed: " +
                                                  std::string(view(api_->last_error(nullptr))));
    }
  }

  Metric define(plexus_metric_kind kind, std::string_view name, std::string_view help,
                const std::vector<std::string>& labels, const std::vector<double>& buckets) const {
    std::vector<plexus_str> l;
    for (const auto& s : labels) l.push_back(str(s));
    int64_t id = api_->metric_define(host_, kind, str(name), str(help), l.data(), l.size(),
                                     buckets.empty() ? nullptr : buckets.data(), buckets.size());
    if (id == 0) {
      throw HostError(Status::Fatal, "metric '" + std::string(name) + "' could not be defined: " +
                                         std::string(view(api_->last_error(nullptr))));
    }
    return Metric(api_, host_, id);
  }

  const plexus_host_api* api_;
  plexus_host* host_;
};

// A delivered command or event (borrowed views: copy what you keep beyond `handle`).
class Message {
 public:
  explicit Message(const plexus_message& m) : m_(m) {}
  std::string_view id() const { return view(m_.id); }
  std::string_view type() const { return view(m_.type); }
  std::string_view stream() const { return view(m_.stream); }
  std::string_view correlation() const { return view(m_.correlation); }
  std::string_view causation() const { return view(m_.causation); }
  std::string_view traceparent() const { return view(m_.traceparent); }
  std::string_view payload() const { return view(m_.payload); }
  uint32_t attempt() const { return m_.attempt; }
  int64_t timestampMs() const { return m_.timestamp_unix_ms; }
  // Parses the payload; malformed JSON throws BadRequest, which the barrier turns into REJECT with
  // a reason that says what is wrong ("payload of CreateOrder is not valid JSON: ...").
  Json json() const {
    try {
      return Json::parse(payload());
    } catch (const Json::exception& e) {
      throw BadRequest(detail::jsonError("payload of " + std::string(type()), payload(), e));
    }
  }

 private:
  const plexus_message& m_;
};

// An HTTP request routed to a plugin route.
class Request {
 public:
  explicit Request(const plexus_request& r) : r_(r) {}
  std::string_view method() const { return view(r_.method); }
  std::string_view path() const { return view(r_.path); }
  std::string_view rawQuery() const { return view(r_.query); }
  std::string_view body() const { return view(r_.body); }
  std::string_view requestId() const { return view(r_.request_id); }

  // Path template parameter ("{id}"), or nullopt.
  std::optional<std::string> param(std::string_view name) const {
    for (size_t i = 0; i < r_.param_count; ++i) {
      if (view(r_.params[i].name) == name) return std::string(view(r_.params[i].value));
    }
    return std::nullopt;
  }
  // Header value (case-insensitive name), or nullopt.
  std::optional<std::string> header(std::string_view name) const {
    for (size_t i = 0; i < r_.header_count; ++i) {
      if (iequals(view(r_.headers[i].name), name)) return std::string(view(r_.headers[i].value));
    }
    return std::nullopt;
  }
  // Decoded query parameter (first occurrence), or nullopt.
  std::optional<std::string> query(std::string_view name) const {
    std::string_view q = rawQuery();
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view part = q.substr(0, amp);
      q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
      size_t eq = part.find('=');
      std::string key = decode(part.substr(0, eq));
      if (key == name)
        return decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    }
    return std::nullopt;
  }
  // Parses the body as JSON; malformed JSON throws BadRequest (answered 400 with what is wrong
  // and where: "request body is not valid JSON: unexpected 'x' at line 1, column 6").
  Json json() const {
    try {
      return Json::parse(body());
    } catch (const Json::exception& e) {
      // parse_error, or out_of_range for a number too large for a double (found by tests/fuzz).
      throw BadRequest(detail::jsonError("request body", body(), e));
    }
  }

  // Percent-decoding for query strings ('+' is a space). Malformed escapes throw BadRequest.
  static std::string decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c == '+') {
        out.push_back(' ');
      } else if (c == '%') {
        if (i + 2 >= s.size()) throw BadRequest("malformed percent-escape in query string");
        int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0) throw BadRequest("malformed percent-escape in query string");
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
      } else {
        out.push_back(c);
      }
    }
    return out;
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  static bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      char x = a[i], y = b[i];
      if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
      if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
      if (x != y) return false;
    }
    return true;
  }
  const plexus_request& r_;
};

// What a route answers.
struct Response {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // Invalid UTF-8 (e.g. echoed from a request) is replaced, not thrown: a throwing dump() turned
  // the 400 for a body with invalid UTF-8 into a 500 (found by tests/fuzz, route_bodies).
  static Response json(int status, const Json& body) {
    return Response{
        status, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace), {}};
  }
  static Response error(int status, std::string_view message) {
    return json(status, Json{{"error", message}});
  }
  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Call-scoped services: the handler's transaction, outgoing messages, after-commit work.
class Context {
 public:
  Context(const Host& host, plexus_call* call) : host_(host), call_(call) {}

  const Host& host() const { return host_; }
  plexus_call* call() const { return call_; }
  std::string newId() const { return host_.newId(); }
  int64_t nowMs() const { return host_.nowMs(); }
  void log(LogLevel level, std::string_view message) const { host_.log(level, message); }

  // Appends an event (event store + outbox, same transaction). Empty stream = current stream.
  void emit(std::string_view type, const Json& payload, std::string_view stream = {}) {
    const std::string text = payload.dump();
    check(api()->emit(call_, str(type), str(stream), str(text)), "emit");
  }
  // Sends a command to its owning service through the outbox.
  void send(std::string_view type, const Json& payload, std::string_view stream = {}) {
    const std::string text = payload.dump();
    check(api()->send(call_, str(type), str(stream), str(text)), "send");
  }
  // Delivers a command to this service not before `atUnixMs` (durable).
  void schedule(std::string_view type, const Json& payload, int64_t atUnixMs,
                std::string_view stream = {}) {
    const std::string text = payload.dump();
    check(api()->schedule(call_, str(type), str(stream), str(text), atUnixMs), "schedule");
  }

  // Runs a parameterised statement ($1..$N) on the call's transaction and returns its rows.
  template <class... Args>
  Rows sql(std::string_view statement, const Args&... args) {
    Rows rows;
    run(statement, {Value(args)...}, &rows, nullptr);
    return rows;
  }
  // Runs a statement and returns the number of affected rows.
  template <class... Args>
  int64_t exec(std::string_view statement, const Args&... args) {
    int64_t affected = 0;
    run(statement, {Value(args)...}, nullptr, &affected);
    return affected;
  }
  Rows sqlv(std::string_view statement, const std::vector<Value>& params) {
    Rows rows;
    run(statement, params, &rows, nullptr);
    return rows;
  }

  // Runs `fn` once the transaction has committed (never if it rolls back). The commit stands
  // whatever `fn` does: an exception it throws is logged as an error with the plugin and
  // component (the host adds both to every log line) and goes no further.
  void afterCommit(std::function<void()> fn) {
    auto* boxed = new AfterCommitFn{std::move(fn), &host_};
    plexus_status s = api()->after_commit(call_, &Context::afterCommitTrampoline, boxed);
    if (s != PLEXUS_OK) {
      delete boxed;
      check(s, "after_commit");
    }
  }

  // Routes only: runs the local receptor for command `type` in this transaction.
  Result invoke(std::string_view type, const Json& payload, std::string_view stream = {}) {
    const std::string text = payload.dump();
    std::string out;
    plexus_status s = api()->invoke(
        call_, str(type), str(stream), str(text),
        [](void* user, plexus_str json) { static_cast<std::string*>(user)->assign(view(json)); },
        &out);
    if (s == PLEXUS_OK) return ok(std::move(out));
    std::string reason = out.empty() ? std::string(view(api()->last_error(call_))) : out;
    return Result{static_cast<Status>(s), reason};
  }

 private:
  const plexus_host_api* api() const { return host_.api(); }

  void check(plexus_status s, const char* what) const {
    if (s == PLEXUS_OK) return;
    Status st = (s == PLEXUS_RETRY || s == PLEXUS_REJECT || s == PLEXUS_FATAL)
                    ? static_cast<Status>(s)
                    : Status::Fatal;
    throw HostError(st,
                    std::string(what) + " failed: " + std::string(view(api()->last_error(call_))));
  }

  void run(std::string_view statement, const std::vector<Value>& params, Rows* rows,
           int64_t* affected) {
    std::vector<plexus_value> abi;
    abi.reserve(params.size());
    for (const auto& p : params) abi.push_back(p.toAbi());
    plexus_row_fn fn = nullptr;
    if (rows != nullptr) {
      fn = [](void* user, const plexus_value* cols, size_t n) -> plexus_status {
        try {
          Row row;
          row.reserve(n);
          for (size_t i = 0; i < n; ++i) row.push_back(Value::fromAbi(cols[i]));
          static_cast<Rows*>(user)->push_back(std::move(row));
          return PLEXUS_OK;
        } catch (...) {
          return PLEXUS_RETRY;  // allocation failure: transient
        }
      };
    }
    check(api()->sql(call_, str(statement), abi.data(), abi.size(), fn, rows, affected), "sql");
  }

  struct AfterCommitFn {
    std::function<void()> fn;
    const Host* host;  // the component's: it outlives the call the callback belongs to
  };

  static void afterCommitTrampoline(void* user, int32_t committed) noexcept {
    std::unique_ptr<AfterCommitFn> boxed(static_cast<AfterCommitFn*>(user));
    if (committed == 0) return;
    try {
      boxed->fn();
    } catch (const std::exception& e) {
      logAfterCommitFailure(*boxed->host, e.what());
    } catch (...) {
      logAfterCommitFailure(*boxed->host, "non-standard exception");
    }
  }
  static void logAfterCommitFailure(const Host& host, const char* what) noexcept {
    try {
      host.log(
          LogLevel::Error,
          std::string("after-commit callback threw (the transaction stays committed): ") + what);
    } catch (...) {
      // Out of memory while logging: nothing left to report with.
    }
  }

  const Host& host_;
  plexus_call* call_;
};

// A message type a receptor lists, with what it is to that receptor (ABI 1.2). Write
// `plexus::command("CreateOrder")` for a command the receptor owns (the host refuses a second
// owner at load) and `plexus::event("OrderCreated")` for an event it reacts to (any number of
// receptors may). A plain "Name" leaves the kind undeclared, as before 1.2: the host then cannot
// tell a second owner from a second listener, so declare it.
struct MessageType {
  constexpr MessageType(const char* n) : name(n) {}  // NOLINT: implicit, for plain "Name"
  constexpr MessageType(const char* n, plexus_message_kind k) : name(n), kind(k) {}
  const char* name;
  plexus_message_kind kind = PLEXUS_MESSAGE_UNDECLARED;
};
constexpr MessageType command(const char* name) { return {name, PLEXUS_MESSAGE_COMMAND}; }
constexpr MessageType event(const char* name) { return {name, PLEXUS_MESSAGE_EVENT}; }

// Base classes. Derive, implement `handle`, register with the macros below.
class Receptor {
 public:
  virtual ~Receptor() = default;
  virtual Result handle(Context& ctx, const Message& message) = 0;
};

class Perspective {
 public:
  virtual ~Perspective() = default;
  virtual Result handle(Context& ctx, const Message& event) = 0;
};

class Route {
 public:
  virtual ~Route() = default;
  virtual Response handle(Context& ctx, const Request& request) = 0;
};

namespace detail {

// A component instance together with the host handle it was created with.
template <class T>
struct Holder {
  struct WithHost {};
  struct Plain {};
  Holder(const plexus_host_api* api, plexus_host* h, WithHost) : host(api, h), component(host) {}
  Holder(const plexus_host_api* api, plexus_host* h, Plain) : host(api, h), component() {}
  Host host;
  T component;
};

template <class T>
void* create(const plexus_host_api* api, plexus_host* host) noexcept {
  try {
    if constexpr (std::is_constructible_v<T, Host&>) {
      return new Holder<T>(api, host, typename Holder<T>::WithHost{});
    } else {
      return new Holder<T>(api, host, typename Holder<T>::Plain{});
    }
  } catch (const std::exception& e) {
    api->log(host, PLEXUS_LOG_ERROR,
             str(std::string("component construction failed: ") + e.what()));
  } catch (...) {
    api->log(host, PLEXUS_LOG_ERROR, str("component construction failed: unknown exception"));
  }
  return nullptr;
}

template <class T>
void destroy(void* instance) noexcept {
  delete static_cast<Holder<T>*>(instance);
}

inline void setResult(const Host& host, plexus_call* call, std::string_view text) noexcept {
  host.api()->set_result(call, str(text));
}

// The barrier for receptors and perspectives: no exception crosses into the host.
template <class T>
plexus_status handleMessage(void* instance, plexus_call* call, const plexus_message* m) noexcept {
  auto* h = static_cast<Holder<T>*>(instance);
  try {
    Context ctx(h->host, call);
    Message msg(*m);
    Result r = h->component.handle(ctx, msg);
    if (!r.detail.empty()) setResult(h->host, call, r.detail);
    return static_cast<plexus_status>(r.status);
  } catch (const HostError& e) {
    setResult(h->host, call, e.what());
    return static_cast<plexus_status>(e.status());
  } catch (const TransientError& e) {
    setResult(h->host, call, e.what());
    return PLEXUS_RETRY;
  } catch (const BadRequest& e) {
    setResult(h->host, call, e.what());
    return PLEXUS_REJECT;
  } catch (const Json::exception& e) {
    // Typically a payload field of the wrong type ("type must be string, but is number").
    try {
      setResult(h->host, call,
                "handling " + std::string(view(m->type)) + ": " + detail::jsonSentence(e));
    } catch (...) {
    }
    return PLEXUS_REJECT;
  } catch (const std::exception& e) {
    try {
      setResult(h->host, call, std::string("unhandled exception: ") + e.what());
    } catch (...) {
    }
    return PLEXUS_REJECT;
  } catch (...) {
    setResult(h->host, call, "unhandled non-standard exception");
    return PLEXUS_REJECT;
  }
}

inline plexus_status respond(const Host& host, plexus_call* call, const Response& r) {
  for (const auto& [k, v] : r.headers) host.api()->add_header(call, str(k), str(v));
  return host.api()->respond(call, r.status, str(r.contentType), str(r.body));
}

// The barrier for routes: bad input -> 400, transient -> 503, anything else -> 500 without
// internals in the body (the reason goes to the log).
template <class T>
plexus_status handleRequest(void* instance, plexus_call* call, const plexus_request* rq) noexcept {
  auto* h = static_cast<Holder<T>*>(instance);
  try {
    try {
      Context ctx(h->host, call);
      Request req(*rq);
      Response resp = h->component.handle(ctx, req);
      return respond(h->host, call, resp);
    } catch (const BadRequest& e) {
      respond(h->host, call, Response::error(400, e.what()));
      return PLEXUS_OK;
    } catch (const HostError& e) {
      if (e.status() == Status::Retry) {
        respond(h->host, call, Response::error(503, "temporarily unavailable, retry later"));
        h->host.log(LogLevel::Warn, e.what());
        return PLEXUS_RETRY;
      }
      h->host.log(LogLevel::Error, e.what());
      respond(h->host, call, Response::error(500, "internal error"));
      return static_cast<plexus_status>(e.status());
    } catch (const TransientError& e) {
      h->host.log(LogLevel::Warn, e.what());
      respond(h->host, call, Response::error(503, "temporarily unavailable, retry later"));
      return PLEXUS_RETRY;
    } catch (const std::exception& e) {
      h->host.log(LogLevel::Error, std::string("route failed: ") + e.what());
      respond(h->host, call, Response::error(500, "internal error"));
      return PLEXUS_REJECT;
    }
  } catch (...) {
    try {
      respond(h->host, call, Response::error(500, "internal error"));
    } catch (...) {
    }
    return PLEXUS_REJECT;
  }
}

enum class Kind { Receptor, Perspective, Route, Migration };

// Component names are the class name without its namespace: "orders::CreateOrder" -> "CreateOrder".
constexpr const char* baseName(const char* s) {
  const char* last = s;
  for (const char* p = s; *p != '\0'; ++p) {
    if (*p == ':') last = p + 1;
  }
  return last;
}

// The C arrays of a registration, built at compile time (constant initialization: nothing runs
// before the entry point).
template <size_t N>
struct TypeTable {
  const char* names[N];
  plexus_message_kind kinds[N];
};
template <size_t N>
constexpr TypeTable<N> typeTable(const MessageType (&types)[N]) {
  TypeTable<N> out{};
  for (size_t i = 0; i < N; ++i) {
    out.names[i] = types[i].name;
    out.kinds[i] = types[i].kind;
  }
  return out;
}
template <size_t N>
constexpr bool noCommands(const MessageType (&types)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (types[i].kind == PLEXUS_MESSAGE_COMMAND) return false;
  }
  return true;
}

// The registration statics below are hidden here, in the header, whatever the plugin's build
// says: with GCC's default visibility a static inside an inline function becomes a GNU_UNIQUE
// symbol, which the dynamic linker merges across every library in the process, RTLD_LOCAL or
// not, and a second plugin would then return the first one's descriptor.
#if defined(__GNUC__) || defined(__clang__)
#define PLEXUS_DETAIL_LOCAL __attribute__((visibility("hidden")))
#else
#define PLEXUS_DETAIL_LOCAL
#endif

// Registration nodes form an intrusive list linked by trivial static constructors: no allocation
// and no plugin code runs before the host calls the entry point.
struct Node {
  Kind kind;
  const void* desc;
  Node* next;
};
PLEXUS_DETAIL_LOCAL inline Node*& head() {
  static Node* h = nullptr;
  return h;
}
struct Registrar {
  explicit Registrar(Node& n) noexcept {
    n.next = head();
    head() = &n;
  }
};

struct Descriptor {
  plexus_plugin_desc desc{};
  std::vector<const plexus_receptor_desc*> receptors;
  std::vector<const plexus_perspective_desc*> perspectives;
  std::vector<const plexus_route_desc*> routes;
  std::vector<const plexus_migration_desc*> migrations;
};

PLEXUS_DETAIL_LOCAL inline const plexus_plugin_desc* buildDescriptor(const char* name,
                                                                     const char* version) noexcept {
  try {
    static Descriptor d = [&] {
      Descriptor x;
      std::vector<Node*> nodes;
      for (Node* n = head(); n != nullptr; n = n->next) nodes.push_back(n);
      for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {  // registration order
        Node* n = *it;
        switch (n->kind) {
          case Kind::Receptor:
            x.receptors.push_back(static_cast<const plexus_receptor_desc*>(n->desc));
            break;
          case Kind::Perspective:
            x.perspectives.push_back(static_cast<const plexus_perspective_desc*>(n->desc));
            break;
          case Kind::Route:
            x.routes.push_back(static_cast<const plexus_route_desc*>(n->desc));
            break;
          case Kind::Migration:
            x.migrations.push_back(static_cast<const plexus_migration_desc*>(n->desc));
            break;
        }
      }
      x.desc.struct_size = sizeof(plexus_plugin_desc);
      x.desc.abi_major = PLEXUS_ABI_MAJOR;
      x.desc.abi_minor = PLEXUS_ABI_MINOR;
      x.desc.name = name;
      x.desc.version = version;
      x.desc.receptors = x.receptors.data();
      x.desc.receptor_count = x.receptors.size();
      x.desc.perspectives = x.perspectives.data();
      x.desc.perspective_count = x.perspectives.size();
      x.desc.routes = x.routes.data();
      x.desc.route_count = x.routes.size();
      x.desc.migrations = x.migrations.data();
      x.desc.migration_count = x.migrations.size();
      return x;
    }();
    return &d.desc;
  } catch (...) {
    return nullptr;
  }
}

}  // namespace detail
}  // namespace plexus

#define PLEXUS_DETAIL_CAT2(a, b) a##b
#define PLEXUS_DETAIL_CAT(a, b) PLEXUS_DETAIL_CAT2(a, b)
#define PLEXUS_DETAIL_COUNT(arr) (sizeof(arr) / sizeof((arr)[0]))

#define PLEXUS_DETAIL_NODE(id, KindName)                                                \
  ::plexus::detail::Node PLEXUS_DETAIL_CAT(plexus_node_, id){                           \
      ::plexus::detail::Kind::KindName, &PLEXUS_DETAIL_CAT(plexus_desc_, id), nullptr}; \
  const ::plexus::detail::Registrar PLEXUS_DETAIL_CAT(plexus_reg_,                      \
                                                      id){PLEXUS_DETAIL_CAT(plexus_node_, id)};

#define PLEXUS_DETAIL_TYPES(id, ...)                                                     \
  constexpr ::plexus::MessageType PLEXUS_DETAIL_CAT(plexus_decl_, id)[] = {__VA_ARGS__}; \
  constexpr auto PLEXUS_DETAIL_CAT(plexus_types_, id) =                                  \
      ::plexus::detail::typeTable(PLEXUS_DETAIL_CAT(plexus_decl_, id));

#define PLEXUS_DETAIL_RECEPTOR(id, Class, ...)                       \
  namespace {                                                        \
  PLEXUS_DETAIL_TYPES(id, __VA_ARGS__)                               \
  const plexus_receptor_desc PLEXUS_DETAIL_CAT(plexus_desc_, id) = { \
      sizeof(plexus_receptor_desc),                                  \
      0,                                                             \
      ::plexus::detail::baseName(#Class),                            \
      PLEXUS_DETAIL_CAT(plexus_types_, id).names,                    \
      PLEXUS_DETAIL_COUNT(PLEXUS_DETAIL_CAT(plexus_decl_, id)),      \
      &::plexus::detail::create<Class>,                              \
      &::plexus::detail::handleMessage<Class>,                       \
      &::plexus::detail::destroy<Class>,                             \
      PLEXUS_DETAIL_CAT(plexus_types_, id).kinds};                   \
  PLEXUS_DETAIL_NODE(id, Receptor)                                   \
  }

#define PLEXUS_DETAIL_PERSPECTIVE(id, projection, Class, ...)                             \
  namespace {                                                                             \
  PLEXUS_DETAIL_TYPES(id, __VA_ARGS__)                                                    \
  static_assert(::plexus::detail::noCommands(PLEXUS_DETAIL_CAT(plexus_decl_, id)),        \
                "a perspective projects events: list plexus::event(...) or plain names"); \
  const plexus_perspective_desc PLEXUS_DETAIL_CAT(plexus_desc_, id) = {                   \
      sizeof(plexus_perspective_desc),                                                    \
      0,                                                                                  \
      ::plexus::detail::baseName(#Class),                                                 \
      PLEXUS_DETAIL_CAT(plexus_types_, id).names,                                         \
      PLEXUS_DETAIL_COUNT(PLEXUS_DETAIL_CAT(plexus_decl_, id)),                           \
      &::plexus::detail::create<Class>,                                                   \
      &::plexus::detail::handleMessage<Class>,                                            \
      &::plexus::detail::destroy<Class>,                                                  \
      projection};                                                                        \
  PLEXUS_DETAIL_NODE(id, Perspective)                                                     \
  }

// Registers a receptor for one or more message types, each plexus::command("X") (it owns the
// command) or plexus::event("Y") (it reacts to the event):
//   PLEXUS_REGISTER_RECEPTOR(OrderSaga, plexus::event("OrderCreated"),
//                            plexus::command("OrderSagaTimeout"));
#define PLEXUS_REGISTER_RECEPTOR(Class, ...) PLEXUS_DETAIL_RECEPTOR(__COUNTER__, Class, __VA_ARGS__)

// Registers a perspective (read-model projector) for one or more event types. It projects each
// event in a transaction of its own, after the event was published (asynchronously).
#define PLEXUS_REGISTER_PERSPECTIVE(Class, ...) \
  PLEXUS_DETAIL_PERSPECTIVE(__COUNTER__, PLEXUS_PROJECTION_ASYNC, Class, __VA_ARGS__)

// Registers an inline perspective (ABI 1.3): an event emitted in this host is projected in the
// emitting transaction, before it commits (read-your-writes); its failure fails the emitter. Events
// of other services still arrive asynchronously. It must not emit, send or schedule. See
// PLEXUS_PROJECTION_INLINE in plugin_abi.h and the plugin guide, "Inline perspectives".
#define PLEXUS_REGISTER_INLINE_PERSPECTIVE(Class, ...) \
  PLEXUS_DETAIL_PERSPECTIVE(__COUNTER__, PLEXUS_PROJECTION_INLINE, Class, __VA_ARGS__)

#define PLEXUS_DETAIL_ROUTE(id, Class, method, path)              \
  namespace {                                                     \
  const plexus_route_desc PLEXUS_DETAIL_CAT(plexus_desc_, id) = { \
      sizeof(plexus_route_desc),                                  \
      0,                                                          \
      ::plexus::detail::baseName(#Class),                         \
      method,                                                     \
      path,                                                       \
      &::plexus::detail::create<Class>,                           \
      &::plexus::detail::handleRequest<Class>,                    \
      &::plexus::detail::destroy<Class>};                         \
  PLEXUS_DETAIL_NODE(id, Route)                                   \
  }

// Registers an HTTP route: PLEXUS_REGISTER_ROUTE(GetOrder, "GET", "/api/orders/{id}").
#define PLEXUS_REGISTER_ROUTE(Class, method, path) \
  PLEXUS_DETAIL_ROUTE(__COUNTER__, Class, method, path)

#define PLEXUS_DETAIL_MIGRATION(id, version, dialect, name, sql)      \
  namespace {                                                         \
  const plexus_migration_desc PLEXUS_DETAIL_CAT(plexus_desc_, id) = { \
      sizeof(plexus_migration_desc), version, name, dialect, sql};    \
  PLEXUS_DETAIL_NODE(id, Migration)                                   \
  }

// Ships a schema migration: PLEXUS_REGISTER_MIGRATION(1, "any", "create orders", "CREATE ...").
#define PLEXUS_REGISTER_MIGRATION(version, dialect, name, sql) \
  PLEXUS_DETAIL_MIGRATION(__COUNTER__, version, dialect, name, sql)

// The plugin's one entry point. Exactly once per plugin.
#define PLEXUS_PLUGIN(name, version)                                                    \
  extern "C" PLEXUS_ABI_EXPORT const plexus_plugin_desc* plexus_plugin_entry_v1(void) { \
    return ::plexus::detail::buildDescriptor(name, version);                            \
  }                                                                                     \
  static_assert(sizeof(name) > 1, "PLEXUS_PLUGIN needs a non-empty name")
