#pragma once
// Everything that differs between SQL dialects, in one place: a third store implements this
// interface (and Store), registers its factory (factories() in store/store.cpp), and nothing else
// branches on the kind of store. Error classification lives in each store's own Transaction.

#include <initializer_list>
#include <string>
#include <utility>

namespace plexus::store {

class Transaction;

class Dialect {
 public:
  virtual ~Dialect() = default;
  // "postgresql" | "sqlite": the one name used in config, traces (db.system), plugin migrations
  // and logs.
  virtual const char* name() const = 0;
  // Framework DDL with its placeholders filled: {SEQ} = an auto-increment primary key; {J} after
  // a text column reads it as JSON (for -> and ->>), {T} after a JSON value turns it into text.
  virtual std::string ddl(const std::string& sql) const = 0;
  // Appended to a SELECT of rows that one replica claims and the others must skip ("" where one
  // process owns the store).
  virtual const char* skipLocked() const = 0;
  // The relay of one deployment at a time: takes the per-schema relay lock for `tx` (false when
  // another replica holds it). `relaxDurability`: the relay's commit need not wait for the disk,
  // since losing it only publishes those rows again, which the inbox dedupes (not when handlers
  // run in the relay's transaction).
  virtual bool beginRelay(Transaction& tx, bool relaxDurability) const = 0;
  // One migrator at a time across every replica and Job, for the life of `tx`.
  virtual void lockMigrations(Transaction& tx) const = 0;
  // A perspective's handling takes its handler's lock shared for the life of `tx`; a rebuild's
  // switch takes it exclusively, so no replica handles that perspective while its read model is
  // swapped (rebuild/). A no-op where one writer at a time is the rule (SQLite).
  virtual void shareHandlerLock(Transaction&, const std::string& /*handler*/) const {}
  virtual void takeHandlerLock(Transaction&, const std::string& /*handler*/) const {}
};

// `sql` with every {NAME} of `values` replaced (for Dialect::ddl).
std::string fillPlaceholders(std::string sql,
                             std::initializer_list<std::pair<const char*, const char*>> values);

}  // namespace plexus::store
