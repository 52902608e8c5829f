#pragma once
// A test host for plugin authors: loads the real plugin .so (C, C++ or Rust) through its entry
// point, applies the plugin's own migrations to an in-memory SQLite database, and runs its real SQL
// with the host's placeholder rewriting (plexus/sdk/sql_text.hpp). Routes run end to end: request
// -> route -> invoked receptor -> emitted events, one transaction per call as in the host; drain()
// then delivers what was emitted or sent to the plugin's own receptors and perspectives. With a
// schema catalogue every message the plugin emits, sends or schedules is validated against its
// JSON Schema, and a violation fails the call. Header-only; link plexus::testing (SQLite3, dl).
//
//   plexus::testing::SqliteTestHost host(PLUGIN_PATH, R"({"greeting": "howdy"})");
//   host.validateWith({SCHEMA_DIR});
//   auto r = host.request("POST", "/api/greetings", R"({"name": "ada"})");
//   EXPECT_EQ(r.status, 201);
//   EXPECT_EQ(host.emitted().at(0).type, "Greeted");
//   EXPECT_EQ(host.query("SELECT count(*) FROM greetings")[0][0].asInt(), 1);
//
// Inline perspectives (PLEXUS_REGISTER_INLINE_PERSPECTIVE) project what a receptor or route emits
// inside its transaction, as in the host; drain() does not deliver those events to them again.
//
// Differences from the real host, on purpose: one thread, no broker, no retries (a RETRY or
// REJECT is returned to the test), a clock the test sets, ids from a counter.

#include <plexus/abi/plugin_abi.h>
#include <plexus/sdk/sql_text.hpp>
#include <plexus/sdk/types.hpp>
#include <plexus/sdk/uuid.hpp>
#include <plexus/testing/json_schema.hpp>

#include <dlfcn.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace plexus::testing {

// A message the plugin emitted, sent, scheduled or posted, once its transaction committed.
struct Sent {
  std::string kind;  // "event" | "command"
  std::string type;
  std::string stream;
  nlohmann::json payload;
  int64_t deliverAtMs = 0;                        // scheduled commands
  std::string by;                                 // "plugin/component"
  std::vector<std::string> projectedInline = {};  // inline perspectives that projected it
};

struct HttpReply {
  int status = 0;
  std::string contentType;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

struct Handled {
  Status status = Status::Ok;
  std::string component;  // "plugin/component"
  std::string detail;     // result JSON or failure reason
};

// A message emitted that breaks its JSON Schema (or has none): the test fails with all reasons.
class SchemaViolation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SqliteTestHost {
 public:
  explicit SqliteTestHost(const std::string& pluginPath, std::string configJson = "{}")
      : config_(std::move(configJson)) {
    lib_ = dlopen(pluginPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib_ == nullptr) throw std::runtime_error("cannot load " + pluginPath + ": " + dlerror());
    auto entry = reinterpret_cast<plexus_plugin_entry_fn>(dlsym(lib_, PLEXUS_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr)
      throw std::runtime_error(pluginPath + " has no " PLEXUS_PLUGIN_ENTRY_SYMBOL);
    desc_ = entry();
    if (desc_ == nullptr || desc_->abi_major != PLEXUS_ABI_MAJOR ||
        desc_->abi_minor > PLEXUS_ABI_MINOR) {
      throw std::runtime_error(pluginPath + ": no descriptor, or built for another ABI");
    }
    plugin_ = desc_->name;
    if (sqlite3_open(":memory:", &db_) != SQLITE_OK)
      throw std::runtime_error("sqlite3_open failed");
    migrate();
    api_ = makeApi();
    createComponents();
  }
  ~SqliteTestHost() {
    for (auto it = components_.rbegin(); it != components_.rend(); ++it) {
      if (it->instance != nullptr) it->destroy(it->instance);
    }
    sqlite3_close(db_);
    // The plugin stays loaded, as in the host (no dlclose).
  }
  SqliteTestHost(const SqliteTestHost&) = delete;
  SqliteTestHost& operator=(const SqliteTestHost&) = delete;

  // Validate every emitted, sent or scheduled message against the schemas in `dirs`.
  void validateWith(const std::vector<std::string>& dirs) {
    for (const auto& d : dirs) catalogue_.add(d);
    validate_ = true;
  }
  // The same with ':'-separated directories (PLEXUS_SCHEMA_DIRS of plexus_add_plugin_test).
  void validateWith(const std::string& dirs) {
    std::vector<std::string> list;
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t colon = dirs.find(':', start);
      const std::string d =
          dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!d.empty()) list.push_back(d);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    validateWith(list);
  }

  // ---- driving the plugin ----

  // An HTTP request through the plugin's routes (path templates with {param} segments).
  HttpReply request(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    const size_t q = target.find('?');
    const std::string path = target.substr(0, q);
    const std::string query = q == std::string::npos ? std::string() : target.substr(q + 1);
    bool pathKnown = false;
    for (auto& c : components_) {
      if (c.kind != Kind::Route) continue;
      std::vector<std::pair<std::string, std::string>> params;
      if (!match(c.path, path, params)) continue;
      pathKnown = true;
      if (c.method == method) return runRoute(c, method, path, query, body, headers, params);
    }
    HttpReply r;
    r.status = pathKnown ? 405 : 404;
    r.contentType = "application/json";
    r.body = nlohmann::json{{"error", pathKnown ? "method not allowed" : "not found"}}.dump();
    return r;
  }

  // Delivers a message to every receptor and perspective of the plugin that lists its type, each
  // in a transaction of its own (as the host does).
  std::vector<Handled> deliver(const std::string& type, const nlohmann::json& payload,
                               const std::string& stream = "stream-1") {
    return deliverExcept(type, payload, stream, {});
  }

  // Delivers what the plugin emitted or sent (and scheduled, once due) to its own handlers, until
  // nothing is left; returns how many deliveries ran. Failures are in the returned outcomes of
  // deliver(); here they stop the loop with std::runtime_error.
  size_t drain() {
    size_t ran = 0;
    for (size_t guard = 0; guard < 10000; ++guard) {
      auto next = std::find_if(pending_.begin(), pending_.end(),
                               [&](const Sent& s) { return s.deliverAtMs <= now_; });
      if (next == pending_.end()) return ran;
      const Sent s = *next;
      pending_.erase(next);
      for (const auto& h : deliverExcept(s.type, s.payload, s.stream, s.projectedInline)) {
        ++ran;
        if (h.status != Status::Ok)
          throw std::runtime_error(h.component + " " + toString(h.status) + " on " + s.type + ": " +
                                   h.detail);
      }
    }
    throw std::runtime_error("drain: the plugin keeps sending itself messages (10000 rounds)");
  }

  // Runs SQL on the plugin's database (through the same placeholder rewriting).
  Rows query(const std::string& sql, const std::vector<Value>& params = {}) {
    std::string error;
    Rows rows;
    if (!execute(sql, params, &rows, nullptr, error)) throw std::runtime_error(error);
    return rows;
  }

  // ---- what happened ----
  const std::vector<Sent>& emitted() const { return committed_; }  // events and commands
  std::vector<Sent> events() const { return ofKind("event"); }
  std::vector<Sent> commands() const { return ofKind("command"); }
  const std::vector<std::string>& logs() const { return logs_; }
  // Sum of counter increments (last value of a gauge) of `name`; with `labels`, of that series
  // only (label values in definition order), else of every series.
  double metric(const std::string& name, const std::vector<std::string>& labels = {}) const {
    double sum = 0;
    for (const auto& [key, v] : metrics_) {
      if (key.first == name && (labels.empty() || key.second == labels)) sum += v;
    }
    return sum;
  }
  void clear() {
    committed_.clear();
    pending_.clear();
    logs_.clear();
  }

  void setNowMs(int64_t ms) { now_ = ms; }
  void advanceMs(int64_t ms) { now_ += ms; }
  int64_t nowMs() const { return now_; }

 private:
  enum class Kind { Receptor, Perspective, Route };
  // What a plexus_host* points to here (the handle is opaque to plugins; the real host has its
  // own).
  struct HostHandle {
    SqliteTestHost* testHost;
    std::string plugin;
    std::string component;
  };
  static HostHandle& handle(plexus_host* h) { return *reinterpret_cast<HostHandle*>(h); }
  struct Component {
    Kind kind;
    std::string name;
    std::string id;
    std::vector<std::string> types;
    std::string method, path;
    plexus_create_fn create;
    plexus_destroy_fn destroy;
    plexus_status (*onMessage)(void*, plexus_call*, const plexus_message*) = nullptr;
    plexus_status (*onRequest)(void*, plexus_call*, const plexus_request*) = nullptr;
    bool projectsInline = false;
    void* instance = nullptr;
    std::unique_ptr<HostHandle> host;
  };
  // One hook invocation (plexus_call): its outgoing messages, response and after-commit work.
  struct Call {
    SqliteTestHost* self;
    Component* component;
    std::string stream, messageId;
    std::vector<Sent> outgoing;
    size_t projected = 0;  // outgoing offered to the inline perspectives
    bool projectingInline = false;
    std::vector<std::pair<plexus_after_commit_fn, void*>> afterCommit;
    std::string result, error;
    bool isRoute = false, responded = false;
    HttpReply reply;
  };
  static Call& call(plexus_call* c) { return *reinterpret_cast<Call*>(c); }
  static SqliteTestHost& self(plexus_host* h) { return *handle(h).testHost; }

  // ---- setup ----

  void migrate() {
    std::vector<const plexus_migration_desc*> ms;
    for (size_t i = 0; i < desc_->migration_count; ++i) {
      const auto* m = desc_->migrations[i];
      const std::string d = m->dialect;
      if (d == "any" || d == "sqlite") ms.push_back(m);
    }
    std::sort(ms.begin(), ms.end(), [](auto* a, auto* b) { return a->version < b->version; });
    for (const auto* m : ms) {
      for (const auto& statement : sql::splitStatements(m->sql)) {
        std::string error;
        if (!execute(statement, {}, nullptr, nullptr, error)) {
          throw std::runtime_error("migration " + plugin_ + " v" + std::to_string(m->version) +
                                   " (" + m->name + ") failed: " + error);
        }
      }
    }
  }

  void createComponents() {
    auto add = [&](Kind kind, const char* name, plexus_create_fn create,
                   plexus_destroy_fn destroy) {
      Component c{kind, name, plugin_ + "/" + name, {}, {}, {}, create, destroy};
      c.host = std::make_unique<HostHandle>(HostHandle{this, plugin_, name});
      components_.push_back(std::move(c));
      return &components_.back();
    };
    components_.reserve(desc_->receptor_count + desc_->perspective_count + desc_->route_count);
    for (size_t i = 0; i < desc_->receptor_count; ++i) {
      const auto* r = desc_->receptors[i];
      auto* c = add(Kind::Receptor, r->name, r->create, r->destroy);
      c->onMessage = r->handle;
      c->types.assign(r->message_types, r->message_types + r->message_type_count);
    }
    for (size_t i = 0; i < desc_->perspective_count; ++i) {
      const auto* p = desc_->perspectives[i];
      auto* c = add(Kind::Perspective, p->name, p->create, p->destroy);
      c->onMessage = p->handle;
      c->types.assign(p->event_types, p->event_types + p->event_type_count);
      // ABI 1.3; a descriptor built before ends earlier and is asynchronous.
      c->projectsInline =
          p->struct_size >= offsetof(plexus_perspective_desc, projection) + sizeof(p->projection) &&
          p->projection == PLEXUS_PROJECTION_INLINE;
    }
    for (size_t i = 0; i < desc_->route_count; ++i) {
      const auto* r = desc_->routes[i];
      auto* c = add(Kind::Route, r->name, r->create, r->destroy);
      c->onRequest = r->handle;
      c->method = r->method;
      c->path = r->path;
    }
    for (auto& c : components_) {
      c.instance = c.create(&api_, reinterpret_cast<plexus_host*>(c.host.get()));
      if (c.instance == nullptr) {
        throw std::runtime_error("component " + c.id + " failed to start: " +
                                 (logs_.empty() ? std::string("(no log)") : logs_.back()));
      }
    }
  }

  // ---- running hooks ----

  static bool match(const std::string& tmpl, const std::string& path,
                    std::vector<std::pair<std::string, std::string>>& params) {
    auto split = [](const std::string& s) {
      std::vector<std::string> out;
      size_t start = 1;
      while (start <= s.size()) {
        const size_t slash = s.find('/', start);
        out.push_back(
            s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
      return out;
    };
    const auto t = split(tmpl), p = split(path);
    if (t.size() != p.size()) return false;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i].size() > 2 && t[i].front() == '{' && t[i].back() == '}') {
        if (p[i].empty()) return false;
        params.emplace_back(t[i].substr(1, t[i].size() - 2), p[i]);
      } else if (t[i] != p[i]) {
        return false;
      }
    }
    return true;
  }

  static plexus_str str(const std::string& s) { return plexus_str{s.data(), s.size()}; }
  static std::string text(plexus_str s) {
    return s.size ? std::string(s.data, s.size) : std::string();
  }

  bool exec(const char* sql) {
    return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  }

  // Commits the call's work (or rolls it back) and keeps its messages and after-commit work.
  void finish(Call& c, plexus_status s) {
    const bool commit = s == PLEXUS_OK;
    exec(commit ? "COMMIT" : "ROLLBACK");
    if (commit) {
      for (const auto& m : c.outgoing) {
        committed_.push_back(m);
        pending_.push_back(m);
      }
    }
    for (auto& [fn, user] : c.afterCommit) fn(user, commit ? 1 : 0);
  }

  HttpReply runRoute(Component& comp, const std::string& method, const std::string& path,
                     const std::string& query, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::vector<std::pair<std::string, std::string>>& params) {
    Call c{this, &comp};
    c.isRoute = true;
    const std::string requestId = nextId();
    std::vector<plexus_pair> p, h;
    for (const auto& [k, v] : params) p.push_back({str(k), str(v)});
    for (const auto& [k, v] : headers) h.push_back({str(k), str(v)});
    plexus_request r{};
    r.struct_size = sizeof r;
    r.method = str(method);
    r.path = str(path);
    r.query = str(query);
    r.body = str(body);
    r.request_id = str(requestId);
    r.params = p.data();
    r.param_count = p.size();
    r.headers = h.data();
    r.header_count = h.size();
    exec("BEGIN");
    plexus_status s = comp.onRequest(comp.instance, reinterpret_cast<plexus_call*>(&c), &r);
    if (s == PLEXUS_OK) {
      s = project(c.outgoing, c.projected, c.afterCommit, c.result);
      if (s != PLEXUS_OK) {  // the host's failure, not the route's answer
        c.responded = false;
        if (s != PLEXUS_RETRY) s = PLEXUS_FATAL;
      }
    }
    s = checkSchemas(c, s);
    finish(c, s);
    if (c.responded) return c.reply;
    HttpReply out;
    out.contentType = "application/json";
    const std::string reason = c.result.empty() ? c.error : c.result;
    out.status = s == PLEXUS_OK ? 204 : s == PLEXUS_REJECT ? 400 : s == PLEXUS_RETRY ? 503 : 500;
    if (s != PLEXUS_OK) out.body = nlohmann::json{{"error", reason}}.dump();
    return out;
  }

  // A first delivery of a message (views into the caller's strings).
  plexus_message messageOf(const std::string& type, const std::string& stream,
                           const std::string& payload, const std::string& id) const {
    plexus_message m{};
    m.struct_size = sizeof m;
    m.attempt = 1;
    m.id = str(id);
    m.type = str(type);
    m.stream = str(stream);
    m.correlation = str(id);
    m.payload = str(payload);
    m.timestamp_unix_ms = now_;
    return m;
  }

  Handled runMessage(Component& comp, const std::string& type, const std::string& payload,
                     const std::string& stream, const std::string& id) {
    Call c{this, &comp, stream, id};
    const plexus_message m = messageOf(type, stream, payload, id);
    exec("BEGIN");
    plexus_status s = comp.onMessage(comp.instance, reinterpret_cast<plexus_call*>(&c), &m);
    if (s == PLEXUS_OK && comp.kind == Kind::Receptor)
      s = project(c.outgoing, c.projected, c.afterCommit, c.result);
    s = checkSchemas(c, s);
    finish(c, s);
    return Handled{static_cast<Status>(s), comp.id, c.result.empty() ? c.error : c.result};
  }

  std::vector<Handled> deliverExcept(const std::string& type, const nlohmann::json& payload,
                                     const std::string& stream,
                                     const std::vector<std::string>& projected) {
    std::vector<Handled> out;
    const std::string id = nextId();
    for (auto& c : components_) {
      if (c.kind == Kind::Route || std::find(c.types.begin(), c.types.end(), type) == c.types.end())
        continue;
      if (std::find(projected.begin(), projected.end(), c.id) != projected.end()) continue;
      out.push_back(runMessage(c, type, payload.dump(), stream, id));
    }
    return out;
  }

  // The events of `outgoing` from `projected` on, through the inline perspectives of their types
  // in the current transaction, in order. The first failure is returned, `reason` naming it.
  plexus_status project(std::vector<Sent>& outgoing, size_t& projected,
                        std::vector<std::pair<plexus_after_commit_fn, void*>>& afterCommit,
                        std::string& reason) {
    for (; projected < outgoing.size(); ++projected) {
      Sent& e = outgoing[projected];
      if (e.kind != "event" || e.deliverAtMs != 0) continue;
      for (auto& p : components_) {
        if (!p.projectsInline || std::find(p.types.begin(), p.types.end(), e.type) == p.types.end())
          continue;
        const std::string id = nextId(), payload = e.payload.dump();
        Call pc{this, &p, e.stream, id};
        pc.projectingInline = true;
        const plexus_message m = messageOf(e.type, e.stream, payload, id);
        const plexus_status s = p.onMessage(p.instance, reinterpret_cast<plexus_call*>(&pc), &m);
        afterCommit.insert(afterCommit.end(), pc.afterCommit.begin(), pc.afterCommit.end());
        if (s != PLEXUS_OK) {
          reason = "inline perspective " + p.id + " failed on " + e.type + ": " +
                   (pc.result.empty() ? pc.error : pc.result);
          return s;
        }
        e.projectedInline.push_back(p.id);
      }
    }
    return PLEXUS_OK;
  }

  // With a catalogue, a call whose messages break their schemas fails the test.
  plexus_status checkSchemas(Call& c, plexus_status s) {
    if (!validate_ || s != PLEXUS_OK) return s;
    std::string all;
    for (const auto& m : c.outgoing) {
      for (const auto& e : catalogue_.validate(m.type, m.payload)) all += "\n  " + e;
    }
    if (all.empty()) return s;
    finish(c, PLEXUS_REJECT);  // rolls back and releases the after-commit work
    c.afterCommit.clear();
    throw SchemaViolation(c.component->id + " sent messages that break their schemas:" + all);
  }

  std::vector<Sent> ofKind(const std::string& kind) const {
    std::vector<Sent> out;
    for (const auto& s : committed_)
      if (s.kind == kind) out.push_back(s);
    return out;
  }

  std::string nextId() {
    ++idCounter_;
    return uuid::v7(now_, idCounter_ >> 62, idCounter_);
  }

  bool execute(const std::string& statement, const std::vector<Value>& params, Rows* rows,
               int64_t* affected, std::string& error) {
    sqlite3_stmt* st = nullptr;
    const std::string rewritten = sql::sqliteParameters(statement);
    if (sqlite3_prepare_v2(db_, rewritten.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      error = sqlite3_errmsg(db_);
      return false;
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, &sqlite3_finalize);
    for (size_t i = 0; i < params.size(); ++i) {
      const int n = static_cast<int>(i + 1);
      const Value& v = params[i];
      if (v.type() == Value::Type::Int) sqlite3_bind_int64(st, n, v.asInt());
      if (v.type() == Value::Type::Double) sqlite3_bind_double(st, n, v.asDouble());
      if (v.type() == Value::Type::Text)
        sqlite3_bind_text(st, n, v.asText().data(), static_cast<int>(v.asText().size()),
                          SQLITE_TRANSIENT);
      if (v.type() == Value::Type::Null) sqlite3_bind_null(st, n);
    }
    for (;;) {
      const int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        error = sqlite3_errmsg(db_);
        return false;
      }
      if (rows == nullptr) continue;
      Row row;
      for (int col = 0; col < sqlite3_column_count(st); ++col) {
        switch (sqlite3_column_type(st, col)) {
          case SQLITE_INTEGER:
            row.emplace_back(static_cast<long long>(sqlite3_column_int64(st, col)));
            break;
          case SQLITE_FLOAT:
            row.emplace_back(sqlite3_column_double(st, col));
            break;
          case SQLITE_NULL:
            row.emplace_back();
            break;
          default:
            row.emplace_back(
                std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, col)),
                            static_cast<size_t>(sqlite3_column_bytes(st, col))));
        }
      }
      rows->push_back(std::move(row));
    }
    if (affected != nullptr) *affected = sqlite3_changes(db_);
    return true;
  }

  // ---- the host API table ----

  static plexus_status queue(plexus_call* cp, const char* kind, plexus_str type, plexus_str stream,
                             plexus_str payload, int64_t at) {
    auto& c = call(cp);
    if (c.projectingInline) {
      c.error = std::string(kind) + ": an inline perspective cannot emit, send or schedule";
      return PLEXUS_REJECT;
    }
    const auto json = nlohmann::json::parse(text(payload), nullptr, false);
    if (json.is_discarded()) {
      c.error = std::string(kind) + " " + text(type) + ": payload is not valid JSON";
      return PLEXUS_REJECT;
    }
    c.outgoing.push_back(
        Sent{kind, text(type), stream.size ? text(stream) : c.stream, json, at, c.component->id});
    return PLEXUS_OK;
  }

  plexus_host_api makeApi() {
    plexus_host_api a{};
    a.struct_size = sizeof a;
    a.abi_major = PLEXUS_ABI_MAJOR;
    a.abi_minor = PLEXUS_ABI_MINOR;
    a.log = [](plexus_host* h, plexus_log_level, plexus_str m) {
      self(h).logs_.push_back(handle(h).plugin + "/" + handle(h).component + ": " + text(m));
    };
    a.config = [](plexus_host* h) { return str(self(h).config_); };
    a.now_unix_ms = [](plexus_host* h) { return self(h).now_; };
    a.new_id = [](plexus_host* h, char out[37]) {
      const std::string id = self(h).nextId();
      std::memcpy(out, id.c_str(), 37);
    };
    a.metric_define = [](plexus_host* h, plexus_metric_kind kind, plexus_str name, plexus_str,
                         const plexus_str*, size_t, const double*, size_t) -> int64_t {
      auto& s = self(h);
      s.metricDefs_.emplace_back(text(name), kind);
      return static_cast<int64_t>(s.metricDefs_.size());
    };
    a.metric_update = [](plexus_host* h, int64_t id, const plexus_str* labels, size_t n, double v) {
      auto& s = self(h);
      if (id < 1 || static_cast<size_t>(id) > s.metricDefs_.size()) return PLEXUS_REJECT;
      const auto& [name, kind] = s.metricDefs_[static_cast<size_t>(id - 1)];
      std::vector<std::string> values;
      for (size_t i = 0; i < n; ++i) values.push_back(text(labels[i]));
      double& slot = s.metrics_[{name, values}];
      slot = kind == PLEXUS_METRIC_GAUGE ? v : slot + v;
      return PLEXUS_OK;
    };
    a.emit = [](plexus_call* c, plexus_str t, plexus_str st, plexus_str p) {
      return queue(c, "event", t, st, p, 0);
    };
    a.send = [](plexus_call* c, plexus_str t, plexus_str st, plexus_str p) {
      return queue(c, "command", t, st, p, 0);
    };
    a.schedule = [](plexus_call* c, plexus_str t, plexus_str st, plexus_str p, int64_t at) {
      return queue(c, "command", t, st, p, at);
    };
    a.sql = [](plexus_call* cp, plexus_str statement, const plexus_value* params, size_t n,
               plexus_row_fn onRow, void* user, int64_t* affected) {
      auto& c = call(cp);
      std::vector<Value> values;
      for (size_t i = 0; i < n; ++i) values.push_back(Value::fromAbi(params[i]));
      Rows rows;
      if (!c.self->execute(text(statement), values, onRow ? &rows : nullptr, affected, c.error)) {
        const bool busy = sqlite3_errcode(c.self->db_) == SQLITE_BUSY;
        return busy ? PLEXUS_RETRY : PLEXUS_REJECT;
      }
      for (const auto& row : rows) {
        std::vector<plexus_value> cols;
        for (const auto& v : row) cols.push_back(v.toAbi());
        const plexus_status s = onRow(user, cols.data(), cols.size());
        if (s != PLEXUS_OK) return s;
      }
      return PLEXUS_OK;
    };
    a.after_commit = [](plexus_call* c, plexus_after_commit_fn fn, void* user) {
      call(c).afterCommit.emplace_back(fn, user);
      return PLEXUS_OK;
    };
    a.set_result = [](plexus_call* c, plexus_str json) {
      call(c).result = text(json);
      return PLEXUS_OK;
    };
    a.respond = [](plexus_call* cp, int32_t status, plexus_str ct, plexus_str body) {
      auto& c = call(cp);
      if (!c.isRoute || c.responded) return PLEXUS_REJECT;
      c.responded = true;
      c.reply.status = status;
      c.reply.contentType = ct.size ? text(ct) : "application/json";
      c.reply.body = text(body);
      return PLEXUS_OK;
    };
    a.add_header = [](plexus_call* c, plexus_str n, plexus_str v) {
      call(c).reply.headers.emplace_back(text(n), text(v));
      return PLEXUS_OK;
    };
    a.invoke = [](plexus_call* cp, plexus_str type, plexus_str stream, plexus_str payload,
                  void (*onResult)(void*, plexus_str), void* user) {
      auto& c = call(cp);
      if (c.projectingInline) {
        c.error = "invoke: an inline perspective cannot invoke";
        return PLEXUS_REJECT;
      }
      return c.self->invoke(c, text(type), stream.size ? text(stream) : c.stream, text(payload),
                            onResult, user);
    };
    a.last_error = [](plexus_call* c) {
      static thread_local std::string none;
      return c == nullptr ? str(none) : str(call(c).error);
    };
    a.post = [](plexus_host* h, int32_t kind, plexus_str type, plexus_str stream,
                plexus_str payload) {
      auto& s = self(h);
      Sent m{kind == 1 ? "event" : "command",
             text(type),
             text(stream),
             nlohmann::json::parse(text(payload), nullptr, false),
             0,
             handle(h).plugin + "/" + handle(h).component};
      if (m.payload.is_discarded()) return PLEXUS_REJECT;
      s.committed_.push_back(m);
      s.pending_.push_back(m);
      return PLEXUS_OK;
    };
    return a;
  }

  // A route's local invoke: the receptor owning `type`, in the route's transaction, under a
  // savepoint; its messages join the route's.
  plexus_status invoke(Call& outer, const std::string& type, const std::string& stream,
                       const std::string& payload, void (*onResult)(void*, plexus_str),
                       void* user) {
    Component* owner = nullptr;
    int owners = 0;
    for (auto& c : components_) {
      if (c.kind == Kind::Receptor &&
          std::find(c.types.begin(), c.types.end(), type) != c.types.end()) {
        owner = &c;
        ++owners;
      }
    }
    if (owners != 1) {
      outer.error = "invoke: no receptor for " + type + " in this plugin";
      return PLEXUS_REJECT;
    }
    const std::string id = nextId();
    Call c{this, owner, stream, id};
    const plexus_message m = messageOf(type, stream, payload, id);
    exec("SAVEPOINT plexus_invoke");
    plexus_status s = owner->onMessage(owner->instance, reinterpret_cast<plexus_call*>(&c), &m);
    const size_t mark = outer.outgoing.size(), projectedMark = outer.projected;
    if (s == PLEXUS_OK) {  // its events reach the inline perspectives inside its savepoint
      outer.outgoing.insert(outer.outgoing.end(), c.outgoing.begin(), c.outgoing.end());
      s = project(outer.outgoing, outer.projected, c.afterCommit, c.result);
      if (s != PLEXUS_OK) {
        outer.outgoing.resize(mark);
        outer.projected = projectedMark;
      }
    }
    exec(s == PLEXUS_OK ? "RELEASE plexus_invoke" : "ROLLBACK TO plexus_invoke");
    if (s == PLEXUS_OK) {
      outer.afterCommit.insert(outer.afterCommit.end(), c.afterCommit.begin(), c.afterCommit.end());
    } else {
      for (auto& [fn, u] : c.afterCommit) fn(u, 0);
      outer.error = c.result.empty() ? c.error : c.result;
    }
    if (onResult != nullptr) onResult(user, str(c.result));
    return s;
  }

  void* lib_ = nullptr;
  const plexus_plugin_desc* desc_ = nullptr;
  std::string plugin_;
  std::string config_;
  sqlite3* db_ = nullptr;
  plexus_host_api api_{};
  std::vector<Component> components_;
  std::vector<Sent> committed_, pending_;
  std::vector<std::string> logs_;
  std::vector<std::pair<std::string, plexus_metric_kind>> metricDefs_;
  std::map<std::pair<std::string, std::vector<std::string>>, double> metrics_;
  SchemaCatalogue catalogue_;
  bool validate_ = false;
  int64_t now_ = 1767225600000;  // 2026-01-01T00:00:00Z
  uint64_t idCounter_ = 0;
};

}  // namespace plexus::testing
