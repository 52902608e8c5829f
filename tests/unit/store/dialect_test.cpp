// The store's dialect seam without a server: what each dialect writes for the framework's DDL
// placeholders, which statements its locks send (and whether they wait for the next round trip),
// identifier checks, statement splitting and the factory's refusal of an unknown kind.
#include "store/dialect.hpp"
#include "store/postgres.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using plexus::Rows;
using plexus::Value;
using plexus::store::Dialect;
using plexus::store::SqlError;

// Records what a dialect sends; answers every query with `answer`.
class RecordingTransaction final : public plexus::store::Transaction {
 public:
  struct Sent {
    std::string sql;
    std::vector<Value> params;
    bool deferred;
  };
  Rows query(const std::string& sql, const std::vector<Value>& params, int64_t*) override {
    sent.push_back({sql, params, false});
    return answer;
  }
  void defer(const std::string& sql, const std::vector<Value>& params) override {
    sent.push_back({sql, params, true});
  }
  void commit() override {}
  void rollback() override {}
  std::vector<Sent> sent;
  Rows answer;
};

const std::string kFrameworkDdl =
    "CREATE TABLE t (seq {SEQ}, payload TEXT); SELECT payload{J}->>'a', (payload{J}->'b'){T}";

TEST(StoreDialect, PlaceholdersAreFilledEverywhereAndOthersLeftAlone) {
  EXPECT_EQ(plexus::store::fillPlaceholders("{A} {B} {A} {C}", {{"{A}", "x"}, {"{B}", ""}}),
            "x  x {C}");
}

TEST(StoreDialect, PostgresqlDdlUsesBigserialAndJsonb) {
  const Dialect& d = plexus::store::postgresDialect();
  EXPECT_STREQ(d.name(), "postgresql");
  EXPECT_EQ(d.ddl(kFrameworkDdl),
            "CREATE TABLE t (seq BIGSERIAL PRIMARY KEY, payload TEXT); "
            "SELECT payload::jsonb->>'a', (payload::jsonb->'b')::text");
  EXPECT_STREQ(d.skipLocked(), " FOR UPDATE SKIP LOCKED");
}

TEST(StoreDialect, SqliteDdlUsesAutoincrementAndPlainText) {
  const Dialect& d = plexus::store::sqliteDialect();
  EXPECT_STREQ(d.name(), "sqlite");
  EXPECT_EQ(d.ddl(kFrameworkDdl),
            "CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT); "
            "SELECT payload->>'a', (payload->'b')");
  EXPECT_STREQ(d.skipLocked(), "");
}

TEST(StoreDialect, PostgresqlRelayTakesTheSchemasLockAndSetsDurability) {
  const Dialect& d = plexus::store::postgresDialect();
  RecordingTransaction tx;
  tx.answer = {{Value(1), Value("off")}};
  EXPECT_TRUE(d.beginRelay(tx, true));
  ASSERT_EQ(tx.sent.size(), 1u);
  EXPECT_NE(tx.sent[0].sql.find("pg_try_advisory_xact_lock"), std::string::npos) << tx.sent[0].sql;
  ASSERT_EQ(tx.sent[0].params.size(), 1u);
  EXPECT_EQ(tx.sent[0].params[0].asText(), "off");

  tx.answer = {{Value(0), Value("on")}};  // another replica holds it
  EXPECT_FALSE(d.beginRelay(tx, false));
  EXPECT_EQ(tx.sent.back().params[0].asText(), "on");
}

TEST(StoreDialect, PostgresqlHandlerLocksShareWithTheNextStatementAndSwitchWaits) {
  const Dialect& d = plexus::store::postgresDialect();
  RecordingTransaction tx;
  d.shareHandlerLock(tx, "orders.OrderView");
  d.takeHandlerLock(tx, "orders.OrderView");
  d.lockMigrations(tx);
  ASSERT_EQ(tx.sent.size(), 3u);
  EXPECT_TRUE(tx.sent[0].deferred) << "a shared handler lock must not cost a round trip";
  EXPECT_NE(tx.sent[0].sql.find("lock_shared"), std::string::npos);
  EXPECT_EQ(tx.sent[0].params.at(0).asText(), "orders.OrderView");
  EXPECT_FALSE(tx.sent[1].deferred);
  EXPECT_EQ(tx.sent[1].sql.find("lock_shared"), std::string::npos);
  EXPECT_NE(tx.sent[2].sql.find("pg_advisory_xact_lock"), std::string::npos);
}

TEST(StoreDialect, SqliteNeedsNoLocks) {
  const Dialect& d = plexus::store::sqliteDialect();
  RecordingTransaction tx;
  EXPECT_TRUE(d.beginRelay(tx, true));
  d.lockMigrations(tx);
  d.shareHandlerLock(tx, "h");
  d.takeHandlerLock(tx, "h");
  EXPECT_TRUE(tx.sent.empty());
}

TEST(StoreDialect, IdentifiersAreLowercaseSqlNames) {
  using plexus::store::validIdentifier;
  EXPECT_TRUE(validIdentifier("order_service"));
  EXPECT_TRUE(validIdentifier("_x1"));
  EXPECT_FALSE(validIdentifier(""));
  EXPECT_FALSE(validIdentifier("1abc"));
  EXPECT_FALSE(validIdentifier("a-b"));
  EXPECT_FALSE(validIdentifier("a;DROP TABLE t"));
}

TEST(StoreDialect, StatementsSplitOutsideQuotesAndDollarBlocks) {
  const auto parts = plexus::store::splitStatements(
      "CREATE TABLE a (x TEXT DEFAULT 'a;b'); -- c;d\n"
      "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n  ;");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_NE(parts[0].find("'a;b'"), std::string::npos);
  EXPECT_NE(parts[1].find("SELECT 1;"), std::string::npos);
}

TEST(StoreDialect, AnUnknownStoreKindIsRefusedByName) {
  plexus::config::Store c;
  c.kind = "mysql";
  try {
    plexus::store::Store::open(c, 1);
    FAIL() << "a store of an unknown kind opened";
  } catch (const SqlError& e) {
    EXPECT_NE(std::string(e.what()).find("\"mysql\""), std::string::npos) << e.what();
    EXPECT_FALSE(e.transient());
  }
}

}  // namespace
