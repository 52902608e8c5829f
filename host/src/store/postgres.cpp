#include "store/postgres.hpp"

#include <Poco/URI.h>
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace plexus::store {
namespace {

// libpq URI -> key=value connection string. Throws std::invalid_argument for a malformed URI.
std::string connectionString(const std::string& url) {
  if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0) return url;
  Poco::URI uri(url);
  auto quote = [](const std::string& v) {
    std::string out = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out + "'";
  };
  std::string out;
  auto add = [&](const std::string& k, const std::string& v) {
    if (v.empty()) return;
    out += (out.empty() ? "" : " ") + k + "=" + quote(v);
  };
  add("host", uri.getHost());
  if (uri.getPort() != 0) add("port", std::to_string(uri.getPort()));
  const std::string info = uri.getUserInfo();
  const size_t colon = info.find(':');
  std::string user, password;  // URI::decode appends to its output
  Poco::URI::decode(info.substr(0, colon), user);
  if (colon != std::string::npos) Poco::URI::decode(info.substr(colon + 1), password);
  add("user", user);
  add("password", password);
  std::string db = uri.getPath();
  if (!db.empty() && db[0] == '/') db = db.substr(1);
  add("dbname", db);
  for (const auto& [k, v] : uri.getQueryParameters()) add(k, v);
  if (out.empty()) throw std::invalid_argument("PostgreSQL URL has no host");
  return out;
}

// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr Oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700, kFloat8 = 701,
              kNumeric = 1700;

// SQLSTATE classes worth a retry: connection (08), serialization/deadlock (40), resources (53),
// operator intervention (57: admin shutdown, crash recovery).
bool transientState(const char* state) {
  if (state == nullptr || std::strlen(state) < 2) return false;
  const std::string cls(state, 2);
  return cls == "08" || cls == "40" || cls == "53" || cls == "57";
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

bool ok(const PGresult* r) {
  const ExecStatusType s = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

// The error of a failed result (or of the connection when there is none), with its SQLSTATE.
[[noreturn]] void fail(PGconn* conn, const PGresult* r, const std::string& sql) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = r != nullptr ? PQresultErrorMessage(r) : "";
  if (message.empty()) message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const bool lost = PQstatus(conn) != CONNECTION_OK;
  std::string what = "postgresql: " + message;
  if (state != nullptr) what += " (SQLSTATE " + std::string(state) + ")";
  if (!sql.empty()) what += " in: " + sql.substr(0, 200);
  throw SqlError(what, lost || transientState(state));
}

Value cell(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col) != 0) return Value();
  const char* text = PQgetvalue(r, row, col);
  switch (PQftype(r, col)) {
    case kBool:
      return Value(text[0] == 't');
    case kInt2:
    case kInt4:
    case kInt8:
      return Value(std::strtoll(text, nullptr, 10));
    case kFloat4:
    case kFloat8:
    case kNumeric:
      return Value(std::strtod(text, nullptr));
    default:
      return Value(std::string(text, static_cast<size_t>(PQgetlength(r, row, col))));
  }
}

Rows rowsOf(const PGresult* r) {
  Rows rows;
  const int n = PQntuples(r), cols = PQnfields(r);
  rows.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Row row;
    row.reserve(static_cast<size_t>(cols));
    for (int c = 0; c < cols; ++c) row.push_back(cell(r, i, c));
    rows.push_back(std::move(row));
  }
  return rows;
}

// Parameters in libpq's text format (the server infers the types, as with literals).
struct Params {
  explicit Params(const std::vector<Value>& values) {
    text.reserve(values.size());
    ptrs.reserve(values.size());
    for (const Value& v : values) {
      switch (v.type()) {
        case Value::Type::Null:
          text.emplace_back();
          break;
        case Value::Type::Int:
          text.push_back(std::to_string(v.asInt()));
          break;
        case Value::Type::Double: {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.17g", v.asDouble());
          text.emplace_back(buf);
          break;
        }
        case Value::Type::Text:
          text.push_back(v.asText());
          break;
      }
    }
    for (size_t i = 0; i < values.size(); ++i)
      ptrs.push_back(values[i].isNull() ? nullptr : text[i].c_str());
  }
  int count() const { return static_cast<int>(ptrs.size()); }
  std::vector<std::string> text;
  std::vector<const char*> ptrs;
};

// A client-side deadline on every round trip (PLEXUS_PG_ROUND_TRIP_TIMEOUT_MS, default 10 s; 0 =
// none): a server that stops answering (SIGSTOP, a frozen VM, a peer that still ACKs TCP) must not
// hold a thread and a pooled session forever. A connection that missed it is closed.
std::chrono::milliseconds roundTripTimeout() {
  static const std::chrono::milliseconds value = [] {
    const char* env = std::getenv("PLEXUS_PG_ROUND_TRIP_TIMEOUT_MS");
    char* end = nullptr;
    const long long v = env != nullptr ? std::strtoll(env, &end, 10) : -1;
    return std::chrono::milliseconds(env != nullptr && end != env && *end == 0 && v >= 0 ? v
                                                                                         : 10000);
  }();
  return value;
}

// Connection defaults the URL may override (libpq takes the last of a repeated key): a bounded
// connect, and TCP keepalives so a dead peer behind a silent network is noticed.
constexpr const char* kConnectionDefaults =
    "connect_timeout=5 keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3 "
    "tcp_user_timeout=30000 ";

// A pooled connection and the statements prepared on it (by SQL text). Preparing the host's and
// the plugins' statements once per connection spares the server parsing and planning them on
// every execution; the first use prepares in the same round trip as it executes.
struct Connection {
  explicit Connection(PGconn* c) : pg(c) {}
  ~Connection() { PQfinish(pg); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  PGconn* pg;
  std::unordered_map<std::string, std::string> prepared;
  bool stale = false;  // closed instead of going back to the pool

  // Waits until a result can be read without blocking. Throws SqlError (transient) when the
  // server did not answer by `deadline`; the connection is then stale.
  void await(std::chrono::steady_clock::time_point deadline) {
    const bool bounded = roundTripTimeout().count() > 0;
    while (PQisBusy(pg) != 0) {
      int waitMs = -1;
      if (bounded) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        waitMs = static_cast<int>(std::max<int64_t>(0, left.count()));
      }
      pollfd p{PQsocket(pg), POLLIN, 0};
      const int r = ::poll(&p, 1, waitMs);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        stale = true;
        throw SqlError("postgresql: no answer within " +
                           std::to_string(roundTripTimeout().count()) +
                           " ms (the server is not responding)",
                       true);
      }
      if (PQconsumeInput(pg) == 0) return;  // broken: PQgetResult reports it
    }
  }
  // The next result of the round trip under way (null when there is none).
  PGresult* next(std::chrono::steady_clock::time_point deadline) {
    await(deadline);
    return PQgetResult(pg);
  }
};

std::chrono::steady_clock::time_point roundTripDeadline() {
  return std::chrono::steady_clock::now() + roundTripTimeout();
}
constexpr size_t kPreparedPerConnection = 512;

// Data statements are prepared; the rest (DDL in migrations, SET, transaction control) are not:
// a prepared DDL statement would outlive the objects it names.
bool preparable(const std::string& sql) {
  size_t i = 0;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i])) != 0) ++i;
  auto starts = [&](const char* word) {
    const size_t n = std::strlen(word);
    if (sql.size() - i < n) return false;
    for (size_t k = 0; k < n; ++k) {
      if (std::toupper(static_cast<unsigned char>(sql[i + k])) != word[k]) return false;
    }
    return sql.size() - i == n || std::isspace(static_cast<unsigned char>(sql[i + n])) != 0;
  };
  return starts("SELECT") || starts("INSERT") || starts("UPDATE") || starts("DELETE") ||
         starts("WITH");
}

class PostgresStore;

class PgTransaction final : public Transaction {
 public:
  PgTransaction(PostgresStore& store, std::unique_ptr<Connection> conn, bool reused)
      : store_(store), connection_(std::move(conn)), conn_(connection_->pg), reused_(reused) {}
  ~PgTransaction() override;

  Rows query(const std::string& sql, const std::vector<Value>& params, int64_t* affected) override {
    if (done_) throw SqlError("transaction already ended", false);
    Result r = send(Cmd{sql, params});
    if (affected != nullptr) {
      const char* tuples = PQcmdTuples(r.get());
      *affected = PQresultStatus(r.get()) == PGRES_TUPLES_OK
                      ? PQntuples(r.get())
                      : (tuples != nullptr && *tuples != 0 ? std::atoll(tuples) : 0);
    }
    return rowsOf(r.get());
  }

  // SAVEPOINT and RELEASE cannot fail in a healthy transaction: they travel with the next
  // statement (or the COMMIT) instead of costing a round trip each. ROLLBACK TO goes at once.
  void savepoint(const std::string& name) override {
    deferred_.push_back(Cmd{"SAVEPOINT " + name, {}});
  }
  void release(const std::string& name) override {
    deferred_.push_back(Cmd{"RELEASE SAVEPOINT " + name, {}});
  }
  // Writes whose result nobody reads travel with the next round trip too.
  void defer(const std::string& sql, const std::vector<Value>& params) override {
    if (done_) throw SqlError("transaction already ended", false);
    deferred_.push_back(Cmd{sql, params});
  }

  void commit() override {
    if (done_) throw SqlError("transaction already ended", false);
    if (!begun_ && !lost_) {  // nothing was sent: nothing to commit
      done_ = true;
      return;
    }
    Result r = send(Cmd{"COMMIT", {}});
    done_ = true;
    // COMMIT of a transaction that had failed answers ROLLBACK: nothing was committed.
    if (std::strcmp(PQcmdStatus(r.get()), "ROLLBACK") == 0)
      throw SqlError("postgresql: the transaction was aborted; COMMIT rolled it back", false);
  }
  void rollback() override {
    done_ = true;
    deferred_.clear();
    if (!begun_ || lost_) return;
    Result r = simple("ROLLBACK");
    if (!ok(r.get())) fail(conn_, r.get(), "ROLLBACK");
  }

 private:
  // One round trip: BEGIN (first time), the deferred commands, then `sql`. Throws SqlError for
  // the first that failed. A pooled connection found dead on the first round trip (the server
  // restarted since it was last used) is replaced once: nothing was done on it yet.
  struct Cmd {
    std::string sql;
    std::vector<Value> values;
  };
  Result send(Cmd cmd);
  Result roundTrip(const std::vector<Cmd>& cmds);  // the last one's result
  // One statement without parameters, within the round-trip deadline; its (last) result.
  Result simple(const char* sql) {
    const auto deadline = roundTripDeadline();
    if (PQsendQuery(conn_, sql) != 1) fail(conn_, nullptr, sql);
    Result r(connection_->next(deadline));
    while (PGresult* extra = connection_->next(deadline)) PQclear(extra);
    return r;
  }
  // A prepared statement whose table changed shape under it ("cached plan must not change result
  // type"): the connection is closed after this transaction and the failure is worth a retry.
  void staleCheck(const PGresult* r, const std::string& name) {
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    if (name.empty() || state == nullptr || std::strcmp(state, "0A000") != 0) return;
    connection_->stale = true;
    throw SqlError(std::string("postgresql: ") + PQresultErrorMessage(r) +
                       " (a prepared statement outlived a schema change; retry)",
                   true);
  }

  PostgresStore& store_;
  std::unique_ptr<Connection> connection_;
  PGconn* conn_;  // connection_->pg
  bool reused_;
  bool begun_ = false;
  bool done_ = false;
  bool lost_ = false;  // connection_ gone (or never answered BEGIN); see send()
  std::vector<Cmd> deferred_;
};

class PostgresDialect final : public Dialect {
 public:
  const char* name() const override { return "postgresql"; }
  std::string ddl(const std::string& sql) const override {
    return fillPlaceholders(
        sql, {{"{SEQ}", "BIGSERIAL PRIMARY KEY"}, {"{J}", "::jsonb"}, {"{T}", "::text"}});
  }
  const char* skipLocked() const override { return " FOR UPDATE SKIP LOCKED"; }
  bool beginRelay(Transaction& tx, bool relaxDurability) const override {
    // The lock goes with the transaction, so a dead relay frees it at once.
    const Rows got = tx.query(
        "SELECT CASE WHEN pg_try_advisory_xact_lock(7391467, hashtext(current_schema())) THEN 1 "
        "ELSE 0 END, set_config('synchronous_commit', $1, true)",
        {relaxDurability ? "off" : "on"});
    return !got.empty() && got[0][0].asInt() == 1;
  }
  void lockMigrations(Transaction& tx) const override {
    tx.exec("SELECT pg_advisory_xact_lock(7391466)");
  }
  // Travels with the handler's first statement; waits there while a switch holds it.
  void shareHandlerLock(Transaction& tx, const std::string& handler) const override {
    tx.defer("SELECT pg_advisory_xact_lock_shared(7391468, hashtext($1))", {handler});
  }
  void takeHandlerLock(Transaction& tx, const std::string& handler) const override {
    tx.exec("SELECT pg_advisory_xact_lock(7391468, hashtext($1))", {handler});
  }
};

class PostgresStore final : public Store {
 public:
  // `searchPath`: schemas joined by ',' (validated identifiers); empty = just `schema`.
  PostgresStore(std::string conninfo, const std::string& schema, int poolSize,
                const std::string& searchPath = "")
      : conninfo_(kConnectionDefaults + std::move(conninfo)), free_(poolSize) {
    schema_ = schema;
    // The schema is the connection's search_path, set by the server at connect: no statement
    // per transaction. The identifier was validated (lowercase letters, digits, _).
    const std::string path = searchPath.empty() ? schema_ : searchPath;
    if (!path.empty()) conninfo_ += " options='-c search_path=" + path + "'";
  }
  ~PostgresStore() override = default;
  const Dialect& dialect() const override { return postgresDialect(); }
  void createSchema(Transaction& tx) override {
    if (schema_.empty()) return;
    tx.exec("CREATE SCHEMA IF NOT EXISTS " + schema_);  // identifier validated at open
  }

  std::unique_ptr<Transaction> begin() override {
    // Wait (bounded) for a free connection instead of failing at once when every one is busy.
    if (!acquire()) {
      throw SqlError("no PostgreSQL session free for " + std::to_string(kSessionWaitMs) + " ms",
                     true);
    }
    std::unique_ptr<Connection> conn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    const bool reused = conn != nullptr;
    if (conn == nullptr) {
      try {
        conn = connect();
      } catch (...) {
        giveBack();
        throw;
      }
    }
    return std::make_unique<PgTransaction>(*this, std::move(conn), reused);
  }

  bool ping(std::string& error) override {
    try {
      auto tx = begin();
      const Rows r = tx->query("SELECT 1", {});
      tx->commit();
      return !r.empty();
    } catch (const SqlError& e) {
      error = e.what();
      return false;
    }
  }

  std::unique_ptr<Connection> connect() {
    auto conn = std::make_unique<Connection>(PQconnectdb(conninfo_.c_str()));
    if (PQstatus(conn->pg) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn->pg);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      throw SqlError("cannot get a PostgreSQL session: " + message, true);
    }
    return conn;
  }

  // Back to the pool when it is usable and idle (no transaction left open); closed otherwise.
  void release(std::unique_ptr<Connection> conn) {
    if (conn != nullptr && !conn->stale && PQstatus(conn->pg) == CONNECTION_OK &&
        PQtransactionStatus(conn->pg) == PQTRANS_IDLE) {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(std::move(conn));
    }
    conn.reset();  // closes a connection that is broken or still in a transaction
    giveBack();
  }

 private:
  static constexpr long kSessionWaitMs = 5000;
  std::string conninfo_;
  // Connections are handed out first come, first served, each straight to the next waiter: with
  // more threads than connections (HTTP workers, consumer, relay) an unfair wait starves some
  // requests for seconds, and waking every waiter on each release thrashes two cores.
  struct Waiter {
    std::condition_variable cv;
    bool granted = false;
  };
  bool acquire() {
    std::unique_lock<std::mutex> lock(slotMu_);
    if (free_ > 0 && waiting_.empty()) {
      --free_;
      return true;
    }
    Waiter me;
    waiting_.push_back(&me);
    if (me.cv.wait_for(lock, std::chrono::milliseconds(kSessionWaitMs), [&] { return me.granted; }))
      return true;
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &me));
    return false;
  }
  void giveBack() {
    std::lock_guard<std::mutex> lock(slotMu_);
    if (waiting_.empty()) {
      ++free_;
      return;
    }
    Waiter* next = waiting_.front();
    waiting_.pop_front();
    next->granted = true;
    next->cv.notify_one();
  }
  std::mutex slotMu_;
  int free_;
  std::deque<Waiter*> waiting_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

PgTransaction::~PgTransaction() {
  if (begun_ && !done_ && !lost_ && !connection_->stale && PQstatus(conn_) == CONNECTION_OK) {
    try {
      Result r = simple("ROLLBACK");  // a failure leaves the connection not idle: closed
    } catch (const SqlError&) {       // no answer in time: the connection is stale, closed
    }
  }
  store_.release(std::move(connection_));
}

Result PgTransaction::roundTrip(const std::vector<Cmd>& cmds) {
  // Each data statement: prepared already, prepared in this round trip, or sent unnamed.
  struct Out {
    std::string name;
    bool prepare = false;
  };
  std::vector<Out> out(cmds.size());
  std::unordered_map<std::string, std::string> preparing;  // the same new statement twice
  for (size_t i = 0; i < cmds.size(); ++i) {
    const std::string& sql = cmds[i].sql;
    if (!preparable(sql)) continue;
    auto it = connection_->prepared.find(sql);
    auto now = preparing.find(sql);
    if (it != connection_->prepared.end()) {
      out[i].name = it->second;
    } else if (now != preparing.end()) {
      out[i].name = now->second;
    } else if (connection_->prepared.size() + preparing.size() < kPreparedPerConnection) {
      out[i].name = "plexus_" + std::to_string(connection_->prepared.size() + preparing.size());
      out[i].prepare = true;
      preparing.emplace(sql, out[i].name);
    }
  }
  std::vector<Params> params;
  params.reserve(cmds.size());
  for (const Cmd& c : cmds) params.emplace_back(c.values);
  const Cmd& last = cmds.back();
  const auto deadline = roundTripDeadline();
  if (cmds.size() == 1 && !out[0].prepare) {  // one command: no pipeline needed
    const Params& p = params[0];
    const bool sent =
        (out[0].name.empty() ? PQsendQueryParams(conn_, last.sql.c_str(), p.count(), nullptr,
                                                 p.ptrs.data(), nullptr, nullptr, 0)
                             : PQsendQueryPrepared(conn_, out[0].name.c_str(), p.count(),
                                                   p.ptrs.data(), nullptr, nullptr, 0)) == 1;
    if (!sent) fail(conn_, nullptr, last.sql);
    Result r(connection_->next(deadline));
    while (PGresult* extra = connection_->next(deadline)) PQclear(extra);
    if (!ok(r.get())) {
      staleCheck(r.get(), out[0].name);
      fail(conn_, r.get(), last.sql);
    }
    return r;
  }
  bool sent = PQenterPipelineMode(conn_) == 1;
  for (size_t i = 0; i < cmds.size() && sent; ++i) {
    const Params& p = params[i];
    if (out[i].prepare)
      sent = PQsendPrepare(conn_, out[i].name.c_str(), cmds[i].sql.c_str(), 0, nullptr) == 1;
    if (!sent) break;
    sent = out[i].name.empty() ? PQsendQueryParams(conn_, cmds[i].sql.c_str(), p.count(), nullptr,
                                                   p.ptrs.data(), nullptr, nullptr, 0) == 1
                               : PQsendQueryPrepared(conn_, out[i].name.c_str(), p.count(),
                                                     p.ptrs.data(), nullptr, nullptr, 0) == 1;
  }
  sent = sent && PQpipelineSync(conn_) == 1;
  if (!sent) fail(conn_, nullptr, last.sql);
  // Each result is followed by a null; the sync ends the round trip.
  Result failed, result;
  size_t failedAt = 0;
  for (size_t i = 0; i < cmds.size(); ++i) {
    for (int step = out[i].prepare ? 0 : 1; step < 2; ++step) {
      Result r(connection_->next(deadline));
      while (PGresult* extra = connection_->next(deadline)) PQclear(extra);
      if (!ok(r.get())) {
        if (failed == nullptr) {
          failed = std::move(r);
          failedAt = i;
        }
      } else if (step == 0) {
        connection_->prepared.emplace(cmds[i].sql, out[i].name);
      } else if (i + 1 == cmds.size()) {
        result = std::move(r);
      }
      if (PQstatus(conn_) != CONNECTION_OK) break;
    }
    if (PQstatus(conn_) != CONNECTION_OK) break;
  }
  for (;;) {  // up to and including the sync (a broken connection ends with null)
    Result r(connection_->next(deadline));
    if (r == nullptr || PQresultStatus(r.get()) == PGRES_PIPELINE_SYNC) break;
    if (PQstatus(conn_) != CONNECTION_OK) break;
  }
  PQexitPipelineMode(conn_);
  if (failed != nullptr || result == nullptr) {
    staleCheck(failed.get(), out[failedAt].name);
    fail(conn_, failed.get(), cmds[failedAt].sql);
  }
  return result;
}

Result PgTransaction::send(Cmd cmd) {
  // A connection lost before the transaction began, and not replaced (the server refused a new
  // one): this statement, every later one and the COMMIT fail the same transient way, so work
  // sent with the lost round trip (deferred writes) is never reported as committed.
  if (lost_)
    throw SqlError(
        "postgresql: the connection was lost and none could be opened again; the "
        "transaction is abandoned",
        true);
  // Once the server missed a deadline on this connection, every later statement fails at once
  // instead of waiting out a deadline of its own.
  if (connection_->stale)
    throw SqlError("postgresql: the session stopped answering; the transaction is abandoned", true);
  std::vector<Cmd> cmds;
  cmds.reserve(deferred_.size() + 2);
  if (!begun_) cmds.push_back(Cmd{"BEGIN", {}});
  for (Cmd& d : deferred_) cmds.push_back(std::move(d));
  deferred_.clear();
  cmds.push_back(std::move(cmd));
  if (begun_) return roundTrip(cmds);
  try {
    Result r = roundTrip(cmds);
    begun_ = true;
    return r;
  } catch (const SqlError&) {
    const bool lost = PQstatus(conn_) != CONNECTION_OK;
    if (!lost) {
      begun_ = true;  // BEGIN went through; a statement failed: the transaction is open
      throw;
    }
    lost_ = !reused_;
    if (!reused_) throw;
  }
  // The pooled connection died while idle: one fresh connection, then the same round trip.
  connection_.reset();
  conn_ = nullptr;
  lost_ = true;
  connection_ = store_.connect();  // throws (transient) when the server is still gone
  conn_ = connection_->pg;
  lost_ = false;
  reused_ = false;
  begun_ = true;  // from here the transaction is open on the new connection, or it is lost
  return roundTrip(cmds);
}

}  // namespace

const Dialect& postgresDialect() {
  static const PostgresDialect dialect;
  return dialect;
}

std::unique_ptr<Store> openPostgres(const config::Store& config, int poolSize) {
  if (!config.schema.empty() && !validIdentifier(config.schema)) {
    throw std::invalid_argument("store.schema must be a lowercase SQL identifier, got \"" +
                                config.schema + "\"");
  }
  return std::make_unique<PostgresStore>(connectionString(config.url), config.schema, poolSize);
}

std::unique_ptr<Store> openPostgresSearchPath(const config::Store& config,
                                              const std::vector<std::string>& searchPath,
                                              int poolSize) {
  std::string path;
  for (const auto& s : searchPath) {
    if (!validIdentifier(s))
      throw std::invalid_argument("search_path entry \"" + s + "\" is not a lowercase identifier");
    path += (path.empty() ? "" : ",") + s;
  }
  return std::make_unique<PostgresStore>(
      connectionString(config.url), searchPath.empty() ? "" : searchPath.front(), poolSize, path);
}

}  // namespace plexus::store
