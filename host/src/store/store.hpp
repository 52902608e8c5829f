#pragma once
// The store: PostgreSQL (libpq, pooled connections; store/postgres.cpp) or SQLite (Poco Data,
// one file, embedded; store/sqlite.cpp), behind one small interface. Statements always use
// $1..$N placeholders and typed parameters; what differs between dialects is in Dialect.

#include "config/store.hpp"
#include "store/dialect.hpp"

#include <plexus/sdk/types.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::store {

// A failed statement. `transient` failures (connection lost, serialization failure, deadlock,
// database busy) are worth retrying; the others are not.
class SqlError : public std::runtime_error {
 public:
  SqlError(const std::string& what, bool transient)
      : std::runtime_error(what), transient_(transient) {}
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

// One database transaction, open from Store::begin() until commit() or rollback(). Destroying an
// open transaction rolls it back. Not thread-safe: one thread at a time.
class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual Rows query(const std::string& sql, const std::vector<Value>& params,
                     int64_t* affected = nullptr) = 0;
  int64_t exec(const std::string& sql, const std::vector<Value>& params = {}) {
    int64_t n = 0;
    query(sql, params, &n);
    return n;
  }
  virtual void commit() = 0;
  virtual void rollback() = 0;
  // Savepoints let one message's effects be undone inside a shared (batched) transaction.
  // A statement whose result nobody reads: a store may send it with its next round trip, and
  // its error then surfaces there (the caller must treat any later failure as possibly its).
  virtual void defer(const std::string& sql, const std::vector<Value>& params) {
    exec(sql, params);
  }
  // A store may defer SAVEPOINT and RELEASE to its next round trip (errors then surface there).
  virtual void savepoint(const std::string& name) { exec("SAVEPOINT " + name); }
  virtual void rollbackTo(const std::string& name) { exec("ROLLBACK TO SAVEPOINT " + name); }
  virtual void release(const std::string& name) { exec("RELEASE SAVEPOINT " + name); }
};

class Store {
 public:
  virtual ~Store() = default;
  virtual const Dialect& dialect() const = 0;
  virtual std::unique_ptr<Transaction> begin() = 0;
  // Cheap reachability check for readiness; false with `error` set when unreachable.
  virtual bool ping(std::string& error) = 0;
  const std::string& schema() const { return schema_; }
  // Creates the store's schema (namespace) in `tx` when it has one and it is missing (migrate, and
  // check's dry run, which rolls it back).
  virtual void createSchema(Transaction& tx) { (void)tx; }
  // The same in a transaction of its own.
  void ensureSchema();

  // Opens the configured store through the factory registered for config.kind (factories() in
  // store.cpp). PostgreSQL URLs may be libpq URIs (postgresql://u:p@h:port/db) or key=value
  // strings; SQLite URLs are file paths (or :memory:).
  static std::unique_ptr<Store> open(const config::Store& config, int poolSize);

 protected:
  std::string schema_;
};

// Splits a script into statements on ';' outside quotes, dollar-quoted blocks and comments.
std::vector<std::string> splitStatements(const std::string& script);

// True for a plain SQL identifier (used for schema names, which cannot be parameters).
bool validIdentifier(const std::string& s);

}  // namespace plexus::store
