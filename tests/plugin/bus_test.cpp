// The durable runtime embedded: SQLite store + in-process bus, real plugins, real HTTP. Assertions
// read the framework's tables (inbox, outbox, deliveries, dead letters), not log text.
#include "base/clock.hpp"
#include "dispatch/dispatcher.hpp"
#include "embedded.hpp"
#include "http/server.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "store/deliveries.hpp"
#include "store/message_rows.hpp"
#include "store/migrations.hpp"
#include "store/outbox.hpp"
#include "store/store.hpp"
#include "support.hpp"
#include "transport_api/transport.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <thread>

namespace {

using nlohmann::json;
using plexus::test::http;

// Polls `condition` until it holds or the deadline passes.
bool eventually(const std::function<bool()>& condition, int timeoutMs = 15000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a bounded condition
  }
  return condition();
}

// The same cases run on SQLite (tier plugin) and, built with PLEXUS_TEST_POSTGRES, on the real
// PostgreSQL server from scripts/services (tier integration), each test in a fresh schema.
std::string storeJson(const plexus::test::TempDir& dir, std::string* schemaOut = nullptr) {
  std::string schema;
  const std::string out = plexus::test::embeddedStoreJson(dir, schema, "it");
  if (schemaOut != nullptr) *schemaOut = schema;
  return out;
}

class Embedded : public plexus::test::EmbeddedFixture {
 protected:
  void SetUp() override {
    cfg_ = plexus::config::parse(
        R"({"service": "bus-test", "http": {"host": "127.0.0.1", "port": 0},
            "store": )" +
            storeJson(dir_, &schema_) + R"(,
            "transport": {"kind": "inproc", "max_attempts": 3, "retry_initial_ms": 20, "retry_max_ms": 100,
                          "poll_interval_ms": 200},
            "plugins": [{"library": ")" +
            plexus::test::testPlugin("testkit") + R"("}]})",
        "inline.json", [](const std::string&) { return std::nullopt; });
    wire();
    server_->start();
    bus_->start();
    port_ = server_->port();
  }

  json count(const std::string& stream) {
    return json::parse(http(port_, "GET", "/t/count/" + stream).body);
  }
  void send(const json& body) {
    ASSERT_EQ(http(port_, "POST", "/t/count", body.dump()).status, 202);
  }
};

TEST_F(Embedded, CommandEventAndProjectionFlowOnce) {
  send({{"stream", "a"}, {"seq", 1}});
  ASSERT_TRUE(eventually([&] { return count("a")["log"].size() == 1; })) << count("a");
  EXPECT_EQ(count("a")["n"], 1);
  // Inbox rows: the Count command and the Counted event, one per handler.
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_inbox"), 2);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_outbox"), 0);  // published rows are gone
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_deliveries"), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_events WHERE stream_id = 'a' AND type = 'Counted'"),
            1);
  // Two handler transactions: the relay's delivery of Count, then the one of Counted.
  EXPECT_TRUE(eventually([&] {
    return metrics_.scrape().find("plexus_handler_transactions_total 2\n") != std::string::npos;
  })) << metrics_.scrape();
}

TEST_F(Embedded, OneStreamIsHandledInOrder) {
  for (int i = 1; i <= 20; ++i) send({{"stream", "ordered"}, {"seq", i}});
  ASSERT_TRUE(eventually([&] { return count("ordered")["log"].size() == 20; })) << count("ordered");
  const json log = count("ordered")["log"];
  for (int i = 0; i < 20; ++i) EXPECT_EQ(log[i], json::array({i + 1, i + 1})) << log;
}

TEST_F(Embedded, SameMessageDeliveredTwiceIsHandledOnce) {
  send({{"stream", "dup"}, {"seq", 1}});
  ASSERT_TRUE(eventually([&] { return count("dup")["log"].size() == 1; }));
  // Redeliver the very same Count message to its handler, as a broker redelivery would.
  {
    auto tx = db_->begin();
    const auto handled =
        tx->query("SELECT message_id FROM plexus_inbox WHERE handler = 'testkit/Count'", {});
    ASSERT_EQ(handled.size(), 1u);
    plexus::Message again;
    again.id = handled[0][0].asText();
    again.kind = "command";
    again.type = "Count";
    again.stream = "dup";
    again.payload = json{{"stream", "dup"}, {"seq", 1}}.dump();
    plexus::store::deliveries::add(*tx, again, "testkit/Count", 0);
    tx->commit();
  }
  bus_->wake();
  ASSERT_TRUE(eventually([&] { return scalar("SELECT COUNT(*) FROM plexus_deliveries") == 0; }));
  EXPECT_EQ(count("dup")["n"], 1);
  EXPECT_NE(metrics_.scrape().find("plexus_inbox_duplicates_total{handler=\"testkit/Count\"} 1"),
            std::string::npos);
}

// A message from the broker runs at once only when its stream has no stored delivery waiting: here
// a retry in backoff (a row due far in the future) holds the stream, so the consumed message is
// stored behind it, and both run in stream order once the retry is due.
TEST_F(Embedded, AConsumedMessageWaitsBehindAStoredRetryOfItsStream) {
  auto message = [](int seq) {
    plexus::Message e;
    e.id = "held-" + std::to_string(seq);
    e.kind = "command";
    e.type = "Count";
    e.stream = "held";
    e.timestampMs = 1;
    e.payload = json{{"stream", "held"}, {"seq", seq}}.dump();
    return e;
  };
  {
    auto tx = db_->begin();
    // A retry (attempt 2) due in 2100.
    plexus::store::deliveries::addRetry(*tx, message(1), "testkit/Count", 2, 4102444800000,
                                        "failed before", 1);
    tx->commit();
  }
  std::vector<plexus::transport::Received> batch{{message(2), ""}};
  const std::vector<bool> ok = bus_->inbound().accept(batch);
  ASSERT_TRUE(ok.at(0));
  EXPECT_EQ(count("held")["n"], 0);  // not run ahead of the waiting retry
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_deliveries WHERE stream_id = 'held' AND handler = "
                   "'testkit/Count'"),
            2);
  {
    auto tx = db_->begin();
    tx->exec("UPDATE plexus_deliveries SET due_at = 0 WHERE message_id = 'held-1'");
    tx->commit();
  }
  ASSERT_TRUE(eventually([&] { return count("held")["log"].size() == 2; })) << count("held");
  EXPECT_EQ(count("held")["log"], json::parse("[[1, 1], [2, 2]]"));
}

// One failing message in a consumed batch: the batch's first (optimistic) attempt rolls back, and
// the re-run with a savepoint per message commits the others once and dead-letters the reject.
TEST_F(Embedded, AFailingMessageInAConsumedBatchCostsTheOthersNothing) {
  auto message = [](const std::string& stream, const std::string& mode) {
    plexus::Message e;
    e.id = "batch-" + stream;
    e.kind = "command";
    e.type = "Count";
    e.stream = stream;
    e.timestampMs = 1;
    e.payload = json{{"stream", stream}, {"seq", 1}, {"mode", mode}}.dump();
    return plexus::transport::Received{e, ""};
  };
  std::vector<plexus::transport::Received> batch{message("ba", ""), message("bb", "reject"),
                                                 message("bc", "")};
  const std::vector<bool> ok = bus_->inbound().accept(batch);
  ASSERT_EQ(ok, std::vector<bool>({true, true, true}));
  EXPECT_EQ(count("ba")["n"], 1);
  EXPECT_EQ(count("bb")["n"], 0);
  EXPECT_EQ(count("bc")["n"], 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_dead_letters WHERE message_id = 'batch-bb'"), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_inbox WHERE handler = 'testkit/Count'"), 2);
  // (The Counted events' own deliveries, for the CountLog perspective, may still be in flight.)
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_deliveries WHERE handler = 'testkit/Count'"), 0);
}

TEST_F(Embedded, FailingHandlerCommitsNothingAndRetriesThenSucceeds) {
  ASSERT_EQ(http(port_, "PUT", "/t/flags/broken", "{}").status, 200);
  send({{"stream", "r"}, {"seq", 1}});
  ASSERT_TRUE(
      eventually([&] { return scalar("SELECT MAX(attempt) FROM plexus_deliveries") >= 2; }));
  EXPECT_EQ(count("r")["n"], 0);  // nothing committed
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_events WHERE stream_id = 'r'"),
            0);  // nothing published
  ASSERT_EQ(http(port_, "DELETE", "/t/flags/broken").status, 200);
  ASSERT_TRUE(eventually([&] { return count("r")["log"].size() == 1; }));
  EXPECT_EQ(count("r")["n"], 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_dead_letters"), 0);
}

TEST_F(Embedded, PoisonIsDeadLetteredAfterExactlyMaxAttemptsThenReplayed) {
  ASSERT_EQ(http(port_, "PUT", "/t/flags/broken", "{}").status, 200);
  send({{"stream", "p"}, {"seq", 1}});
  ASSERT_TRUE(eventually([&] { return scalar("SELECT COUNT(*) FROM plexus_dead_letters") == 1; }));
  EXPECT_EQ(scalar("SELECT attempts FROM plexus_dead_letters"), 3);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_deliveries"), 0);
  auto list = json::parse(http(port_, "GET", "/admin/dead-letters").body);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["handler"], "testkit/Count");
  EXPECT_EQ(list[0]["type"], "Count");
  EXPECT_EQ(list[0]["attempts"], 3);
  EXPECT_NE(list[0]["reason"].get<std::string>().find("testkit is broken"), std::string::npos);

  ASSERT_EQ(http(port_, "DELETE", "/t/flags/broken").status, 200);
  const std::string id = list[0]["id"];
  EXPECT_EQ(http(port_, "POST", "/admin/dead-letters/" + id + "/retry", "{}").status, 202);
  ASSERT_TRUE(eventually([&] { return count("p")["log"].size() == 1; }));
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_dead_letters"), 0);
  EXPECT_EQ(http(port_, "POST", "/admin/dead-letters/" + id + "/retry", "{}").status, 404);
}

TEST_F(Embedded, RejectIsDeadLetteredAtOnceAndCanBeDiscarded) {
  send({{"stream", "x"}, {"mode", "reject"}});
  ASSERT_TRUE(eventually([&] { return scalar("SELECT COUNT(*) FROM plexus_dead_letters") == 1; }));
  EXPECT_EQ(scalar("SELECT attempts FROM plexus_dead_letters"), 1);
  auto list = json::parse(http(port_, "GET", "/admin/dead-letters").body);
  const std::string id = list[0]["id"];
  EXPECT_EQ(http(port_, "DELETE", "/admin/dead-letters/" + id).status, 204);
  EXPECT_EQ(http(port_, "DELETE", "/admin/dead-letters/" + id).status, 404);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_dead_letters"), 0);
}

TEST_F(Embedded, ScheduledCommandWaitsForItsTime) {
  const auto sent = std::chrono::steady_clock::now();
  send({{"stream", "later"}, {"seq", 1}, {"delayMs", 400}});
  EXPECT_EQ(count("later")["n"], 0);
  ASSERT_TRUE(eventually([&] { return count("later")["n"] == 1; }));
  EXPECT_GE(std::chrono::steady_clock::now() - sent, std::chrono::milliseconds(350));
}

TEST_F(Embedded, PostOutsideAHookIsDelivered) {
  ASSERT_EQ(http(port_, "POST", "/t/post", R"({"stream": "posted", "seq": 1})").status, 202);
  ASSERT_TRUE(eventually([&] { return count("posted")["n"] == 1; }));
}

TEST_F(Embedded, AfterCommitExceptionIsLoggedWithPluginAndComponent) {
  ::testing::internal::CaptureStdout();
  const auto status = http(port_, "POST", "/t/post", R"({"throw": "mailer gone"})").status;
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(status, 202);  // the route's transaction committed: the callback ran after it
  json line;
  std::istringstream lines(out);
  for (std::string l; std::getline(lines, l);) {
    if (l.find("mailer gone") != std::string::npos) line = json::parse(l);
  }
  ASSERT_TRUE(line.is_object()) << out;
  EXPECT_EQ(line["level"], "error");
  EXPECT_EQ(line["plugin"], "testkit");
  EXPECT_EQ(line["component"], "PostAfterCommit");
}

TEST_F(Embedded, RetentionPurgesOnlyOldProcessedRowsAndNeverWhatWaits) {
  send({{"stream", "keep"}, {"seq", 1}});
  ASSERT_TRUE(eventually([&] { return count("keep")["log"].size() == 1; }));
  const int64_t inboxBefore = scalar("SELECT COUNT(*) FROM plexus_inbox");
  {
    auto tx = db_->begin();
    const int64_t old = 1000;  // 1970: far beyond any retention
    tx->exec("INSERT INTO plexus_inbox (message_id, handler, processed_at) VALUES ('old', 'h', $1)",
             {old});
    plexus::store::Outgoing scheduled;
    scheduled.message.id = "old-scheduled";
    scheduled.message.kind = "command";
    scheduled.message.type = "Nobody";
    scheduled.message.payload = "{}";
    scheduled.deliverAtMs = 4102444800000;  // written in 1970, due in 2100: waits, never purged
    plexus::store::appendOutgoing(*tx, {scheduled}, old);
    tx->commit();
  }
  EXPECT_EQ(bus_->retention().purge(), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_inbox WHERE message_id = 'old'"), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_inbox"), inboxBefore);  // recent ones stay
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_outbox WHERE message_id = 'old-scheduled'"), 1);
}

TEST_F(Embedded, ReadinessReportsTheOutbox) {
  auto r = json::parse(http(port_, "GET", "/health/ready").body);
  EXPECT_EQ(r["status"], "ready");
  EXPECT_EQ(r["checks"]["store"], "ok");
  EXPECT_EQ(r["checks"]["outbox"]["status"], "ok");
}

TEST(Store, PlaceholdersBindByNumberNotByPosition) {
  plexus::test::TempDir dir;
  std::string schema;
  const auto doc = nlohmann::json::parse(storeJson(dir, &schema));
  plexus::config::Store sc;
  sc.kind = doc["kind"];
  sc.url = doc["url"];
  sc.schema = doc.value("schema", "");
  auto db = plexus::store::Store::open(sc, 1);
  auto tx = db->begin();
  const auto rows = tx->query("SELECT $2 || '-' || $1, '$1 stays text'", {"first", "second"});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].asText(), "second-first");
  EXPECT_EQ(rows[0][1].asText(), "$1 stays text");
  tx->commit();
}

TEST(Migrations, TwiceIsANoOpAndAChangedOneIsRefused) {
  plexus::test::TempDir dir;
  std::string schema;
  const auto doc = nlohmann::json::parse(storeJson(dir, &schema));
  plexus::config::Store sc;
  sc.kind = doc["kind"];
  sc.url = doc["url"];
  sc.schema = doc.value("schema", "");
  auto db = plexus::store::Store::open(sc, 1);
  std::vector<plexus::store::Migration> ms{{"p", 1, "t", "CREATE TABLE p_t (id TEXT PRIMARY KEY)"}};
  auto first = plexus::store::migrate(*db, ms);
  EXPECT_GE(first.applied, 2);  // framework + plugin
  auto second = plexus::store::migrate(*db, ms);
  EXPECT_EQ(second.applied, 0);
  EXPECT_EQ(second.alreadyApplied, first.applied);
  EXPECT_TRUE(plexus::store::pendingMigrations(*db, ms).empty());
  ms[0].sql = "CREATE TABLE p_t (id TEXT PRIMARY KEY, extra TEXT)";
  EXPECT_THROW(plexus::store::migrate(*db, ms), plexus::store::MigrationError);
  EXPECT_EQ(plexus::store::pendingMigrations(*db, ms).size(), 1u);
  if (!schema.empty()) {
    auto tx = db->begin();
    tx->exec("DROP SCHEMA " + schema + " CASCADE");
    tx->commit();
  }
}

}  // namespace
