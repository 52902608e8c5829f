#include "store/sqlite.hpp"

#include <plexus/sdk/sql_text.hpp>

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>

#include <filesystem>
#include <mutex>

namespace plexus::store {
namespace {

using Poco::Data::Keywords::bind;

// SQLite's "busy" errors are worth a retry; the others are not.
[[noreturn]] void rethrow(const Poco::Exception& e) {
  const bool transient =
      dynamic_cast<const Poco::Data::SQLite::DBLockedException*>(&e) != nullptr ||
      dynamic_cast<const Poco::Data::SQLite::TableLockedException*>(&e) != nullptr;
  throw SqlError(e.displayText(), transient);
}

Value cell(const Poco::Data::RecordSet& rs, size_t col, size_t row) {
  if (rs.isNull(col, row)) return Value();
  const Poco::Dynamic::Var v = rs.value(col, row);
  switch (rs.columnType(col)) {
    case Poco::Data::MetaColumn::FDT_BOOL:
    case Poco::Data::MetaColumn::FDT_INT8:
    case Poco::Data::MetaColumn::FDT_UINT8:
    case Poco::Data::MetaColumn::FDT_INT16:
    case Poco::Data::MetaColumn::FDT_UINT16:
    case Poco::Data::MetaColumn::FDT_INT32:
    case Poco::Data::MetaColumn::FDT_UINT32:
    case Poco::Data::MetaColumn::FDT_INT64:
    case Poco::Data::MetaColumn::FDT_UINT64:
      return Value(static_cast<long long>(v.convert<Poco::Int64>()));
    case Poco::Data::MetaColumn::FDT_FLOAT:
    case Poco::Data::MetaColumn::FDT_DOUBLE:
      return Value(v.convert<double>());
    default:
      return Value(v.convert<std::string>());
  }
}

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(Poco::Data::Session session, std::unique_lock<std::mutex> lock)
      : session_(std::move(session)), lock_(std::move(lock)) {
    try {
      session_.begin();
    } catch (const Poco::Exception& e) {
      rethrow(e);
    }
  }
  ~SqliteTransaction() override {
    if (open_) {
      try {
        session_.rollback();
      } catch (...) {
        // Nothing to undo beyond what SQLite undoes itself.
      }
    }
  }

  Rows query(const std::string& sql, const std::vector<Value>& params, int64_t* affected) override {
    try {
      Poco::Data::Statement st(session_);
      // SQLite numbers "$N" parameters by first appearance, not by N; "?N" means index N.
      st << plexus::sql::sqliteParameters(sql);  // the SDK's: the test host rewrites alike
      for (const Value& p : params) {
        switch (p.type()) {
          case Value::Type::Null:
            st, bind(Poco::Nullable<std::string>());
            break;
          case Value::Type::Int:
            st, bind(static_cast<Poco::Int64>(p.asInt()));
            break;
          case Value::Type::Double:
            st, bind(p.asDouble());
            break;
          case Value::Type::Text:
            st, bind(p.asText());
            break;
        }
      }
      const size_t n = st.execute();
      if (affected != nullptr) *affected = static_cast<int64_t>(n);
      Rows rows;
      if (hasColumns(st)) {
        Poco::Data::RecordSet rs(st);
        rows.reserve(rs.rowCount());
        for (size_t r = 0; r < rs.rowCount(); ++r) {
          Row row;
          row.reserve(rs.columnCount());
          for (size_t c = 0; c < rs.columnCount(); ++c) row.push_back(cell(rs, c, r));
          rows.push_back(std::move(row));
        }
      }
      return rows;
    } catch (const Poco::Exception& e) {
      rethrow(e);
    }
  }

  void commit() override {
    open_ = false;
    try {
      session_.commit();
    } catch (const Poco::Exception& e) {
      rethrow(e);
    }
  }
  void rollback() override {
    open_ = false;
    try {
      session_.rollback();
    } catch (const Poco::Exception& e) {
      rethrow(e);
    }
  }

 private:
  static bool hasColumns(Poco::Data::Statement& st) {
    try {
      Poco::Data::RecordSet rs(st);
      return rs.columnCount() > 0;
    } catch (const Poco::Exception&) {
      return false;
    }
  }

  Poco::Data::Session session_;
  std::unique_lock<std::mutex> lock_;  // one writer at a time in this process
  bool open_ = true;
};

class SqliteStore final : public Store {
 public:
  // `attach`: another database file whose tables unqualified names reach after this one's
  // (a rebuild's shadow file first, then the live one as "live").
  explicit SqliteStore(const std::string& path, const std::string& attach = "")
      : session_("sqlite", path) {
    // WAL lets readers run beside the writer; the busy timeout turns brief contention into waits.
    session_ << "PRAGMA journal_mode=WAL", Poco::Data::Keywords::now;
    session_ << "PRAGMA busy_timeout=5000", Poco::Data::Keywords::now;
    session_ << "PRAGMA synchronous=NORMAL", Poco::Data::Keywords::now;
    if (!attach.empty()) {
      std::string file = attach;
      session_ << "ATTACH DATABASE ? AS live", Poco::Data::Keywords::use(file),
          Poco::Data::Keywords::now;
    }
  }
  const Dialect& dialect() const override { return sqliteDialect(); }
  std::unique_ptr<Transaction> begin() override {
    std::unique_lock<std::mutex> lock(mu_);
    return std::make_unique<SqliteTransaction>(session_, std::move(lock));
  }
  bool ping(std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      int one = 0;
      session_ << "SELECT 1", Poco::Data::Keywords::into(one), Poco::Data::Keywords::now;
      return one == 1;
    } catch (const Poco::Exception& e) {
      error = e.displayText();
      return false;
    }
  }

 private:
  std::mutex mu_;
  Poco::Data::Session session_;
};

class SqliteDialect final : public Dialect {
 public:
  const char* name() const override { return "sqlite"; }
  std::string ddl(const std::string& sql) const override {
    return fillPlaceholders(
        sql, {{"{SEQ}", "INTEGER PRIMARY KEY AUTOINCREMENT"}, {"{J}", ""}, {"{T}", ""}});
  }
  // One process owns the file and one transaction runs at a time: nothing to skip or lock.
  const char* skipLocked() const override { return ""; }
  bool beginRelay(Transaction&, bool) const override { return true; }
  void lockMigrations(Transaction&) const override {}
};

std::once_flag registered;

}  // namespace

const Dialect& sqliteDialect() {
  static const SqliteDialect dialect;
  return dialect;
}

std::unique_ptr<Store> openSqliteAttached(const std::string& path, const std::string& live) {
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  try {
    return std::make_unique<SqliteStore>(path, live);
  } catch (const Poco::Exception& e) {
    throw SqlError("cannot open the sqlite store " + path + ": " + e.displayText(), false);
  }
}

std::unique_ptr<Store> openSqlite(const config::Store& config, int /*poolSize*/) {
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  try {
    if (config.url != ":memory:") {
      const auto dir = std::filesystem::path(config.url).parent_path();
      if (!dir.empty()) std::filesystem::create_directories(dir);  // the embedded data dir
    }
    return std::make_unique<SqliteStore>(config.url);
  } catch (const Poco::Exception& e) {
    throw SqlError("cannot open the sqlite store: " + e.displayText(), true);
  } catch (const std::filesystem::filesystem_error& e) {
    throw SqlError("cannot create the data directory: " + std::string(e.what()), false);
  }
}

}  // namespace plexus::store
