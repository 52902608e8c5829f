// The store contract the runtime relies on (savepoints, errors, values, affected rows), on SQLite
// (tier plugin) and, built with PLEXUS_TEST_POSTGRES, on the real PostgreSQL server (tier
// integration), where statements are pipelined and prepared per connection.
#include "store/store.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include <cstdlib>
#include <memory>
#include <string>

namespace {

using plexus::Value;
using plexus::store::SqlError;
using plexus::store::Store;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plexus::config::Store c;
#ifdef PLEXUS_TEST_POSTGRES
    const char* url = std::getenv("PLEXUS_PG_URL");
    ASSERT_NE(url, nullptr) << "PLEXUS_PG_URL is not set: start scripts/services first";
    static int counter = 0;
    c.kind = "postgresql";
    c.url = url;
    c.schema = "st_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    store_ = Store::open(c, 4);
    auto schema = store_->begin();
    schema->exec("CREATE SCHEMA " + c.schema);
    schema->commit();
#else
    c.kind = "sqlite";
    c.url = dir_.file("store.db");
    store_ = Store::open(c, 4);
#endif
    auto tx = store_->begin();
    tx->exec("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, amount DOUBLE PRECISION)");
    tx->commit();
  }

  int64_t count(const std::string& where = "1 = 1") {
    auto tx = store_->begin();
    const plexus::Rows r = tx->query("SELECT COUNT(*) FROM t WHERE " + where, {});
    tx->commit();
    return r.at(0).at(0).asInt();
  }

  plexus::test::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, ARolledBackSavepointUndoesOnlyItsOwnWork) {
  {  // (a SQLite transaction holds the store until it is destroyed)
    auto tx = store_->begin();
    tx->exec("INSERT INTO t (id, name) VALUES ($1, $2)", {1, "kept"});
    tx->savepoint("s");
    tx->exec("INSERT INTO t (id, name) VALUES ($1, $2)", {2, "undone"});
    tx->rollbackTo("s");
    tx->release("s");
    tx->savepoint("s");
    tx->exec("INSERT INTO t (id, name) VALUES ($1, $2)", {3, "kept"});
    tx->release("s");
    tx->commit();
  }
  EXPECT_EQ(count(), 2);
  EXPECT_EQ(count("id = 2"), 0);
}

TEST_F(StoreTest, AFailedStatementUnderASavepointLeavesTheRestCommittable) {
  {
    auto tx = store_->begin();
    tx->exec("INSERT INTO t (id, name) VALUES ($1, $2)", {1, "first"});
    tx->savepoint("s");
    EXPECT_THROW(tx->exec("INSERT INTO t (id, name) VALUES ($1, $2)", {1, "again"}), SqlError);
    tx->rollbackTo("s");
    tx->release("s");
    tx->exec("INSERT INTO t (id, name) VALUES ($1, $2)", {2, "second"});
    tx->commit();
  }
  EXPECT_EQ(count(), 2);
}

TEST_F(StoreTest, AConstraintViolationIsNotTransientAndTheNextTransactionWorks) {
  {
    auto tx = store_->begin();
    tx->exec("INSERT INTO t (id) VALUES ($1)", {7});
    tx->commit();
  }
  try {
    auto tx = store_->begin();
    tx->exec("INSERT INTO t (id) VALUES ($1)", {7});
    FAIL() << "a duplicate key was accepted";
  } catch (const SqlError& e) {
    EXPECT_FALSE(e.transient()) << e.what();
#ifdef PLEXUS_TEST_POSTGRES
    EXPECT_NE(std::string(e.what()).find("23505"), std::string::npos) << e.what();
#endif
  }
  // Every pooled connection is usable again (the failed transaction rolled back on release).
  for (int i = 0; i < 6; ++i) EXPECT_EQ(count("id = 7"), 1);
}

TEST_F(StoreTest, ValuesKeepTheirTypes) {
  const long long big = 9000000000000000001LL;
  const std::string text = "it's \"quoted\" and ünïcode";
  {
    auto tx = store_->begin();
    tx->exec("INSERT INTO t (id, name, amount) VALUES ($1, $2, $3)", {big, text, 12.5});
    tx->exec("INSERT INTO t (id, name, amount) VALUES ($1, $2, $3)", {1, Value(), Value()});
    tx->commit();
  }
  auto tx = store_->begin();
  const plexus::Rows r = tx->query("SELECT id, name, amount FROM t ORDER BY id", {});
  tx->commit();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0][0].asInt(), 1);
  EXPECT_TRUE(r[0][1].isNull());
  EXPECT_TRUE(r[0][2].isNull());
  EXPECT_EQ(r[1][0].type(), Value::Type::Int);
  EXPECT_EQ(r[1][0].asInt(), big);
  EXPECT_EQ(r[1][1].asText(), text);
  EXPECT_DOUBLE_EQ(r[1][2].asDouble(), 12.5);
}

TEST_F(StoreTest, ExecCountsTheRowsItChanged) {
  auto tx = store_->begin();
  for (int i = 1; i <= 5; ++i) tx->exec("INSERT INTO t (id, name) VALUES ($1, 'x')", {i});
  EXPECT_EQ(tx->exec("UPDATE t SET name = 'y' WHERE id > $1", {2}), 3);
  EXPECT_EQ(tx->exec("DELETE FROM t WHERE id = $1", {99}), 0);
  tx->commit();
}

TEST_F(StoreTest, WorkOfATransactionThatWasNotCommittedIsGone) {
  {
    auto tx = store_->begin();
    tx->exec("INSERT INTO t (id) VALUES ($1)", {1});
  }  // destroyed without commit
  {
    auto tx = store_->begin();
    tx->exec("INSERT INTO t (id) VALUES ($1)", {2});
    tx->rollback();
  }
  EXPECT_EQ(count(), 0);
}

#ifdef PLEXUS_TEST_POSTGRES
TEST_F(StoreTest, CommittingATransactionWhoseStatementFailedThrows) {
  {
    auto tx = store_->begin();
    tx->exec("INSERT INTO t (id) VALUES ($1)", {1});
    EXPECT_THROW(tx->exec("INSERT INTO t (id) VALUES ($1)", {1}), SqlError);
    EXPECT_THROW(tx->commit(), SqlError);
  }
  EXPECT_EQ(count(), 0);
}

// Statements are prepared per connection; a table that changes shape under a prepared SELECT *
// costs at most one transient failure, after which the new shape is read.
TEST_F(StoreTest, APreparedStatementOutlivedByASchemaChangeRecovers) {
  auto select = [&] {
    auto tx = store_->begin();
    const plexus::Rows r = tx->query("SELECT * FROM t WHERE id = $1", {1});
    tx->commit();
    return r;
  };
  {
    auto tx = store_->begin();
    tx->exec("INSERT INTO t (id, name) VALUES ($1, 'a')", {1});
    tx->commit();
  }
  ASSERT_EQ(select().at(0).size(), 3u);
  ASSERT_EQ(select().at(0).size(), 3u);  // now prepared on the pooled connection
  {
    auto tx = store_->begin();
    tx->exec("ALTER TABLE t ADD COLUMN extra TEXT");
    tx->commit();
  }
  plexus::Rows r;
  try {
    r = select();
  } catch (const SqlError& e) {
    EXPECT_TRUE(e.transient()) << e.what();
    r = select();
  }
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].size(), 4u);
}

// Forwards one TCP connection from a loopback port to PostgreSQL, until cut(): then the session
// is gone and the port refuses new ones, as while the server restarts.
class OneConnectionForwarder {
 public:
  explicit OneConnectionForwarder(int targetPort) : target_(targetPort) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("forwarder: cannot listen on loopback");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~OneConnectionForwarder() {
    cut();
    thread_.join();
  }
  int port() const { return port_; }
  void cut() {
    cut_ = true;
    ::shutdown(listener_, SHUT_RDWR);  // wakes accept(); the port refuses from now on
  }

 private:
  void run() {
    const int client = ::accept(listener_, nullptr, nullptr);
    ::close(listener_);
    if (client < 0) return;
    const int server = plexus::test::connectLoopback(target_, "127.0.0.1", false);
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buf[16384];
    while (!cut_ && server >= 0) {
      if (::poll(fds, 2, 50) <= 0) continue;  // 50 ms: how soon cut() is noticed
      for (int i = 0; i < 2; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0 || ::write(fds[1 - i].fd, buf, static_cast<size_t>(n)) != n) cut_ = true;
      }
    }
    ::close(client);  // the client's session ends here: its next statement finds it lost
    if (server >= 0) ::close(server);
  }
  int target_, port_ = 0, listener_ = -1;
  std::atomic<bool> cut_{false};
  std::thread thread_;
};

// A pooled connection lost while it was idle, and a server that refuses the new one (as during a
// PostgreSQL restart): the transaction fails transiently, every later statement of it too, and
// nothing touches the connection that is gone (the order service once died of SIGSEGV here when
// PostgreSQL was stopped in immediate mode under load).
TEST_F(StoreTest, ATransactionWhoseConnectionIsLostAndCannotReopenFailsTransiently) {
  const std::string url = std::getenv("PLEXUS_PG_URL");  // postgresql://user:pw@host:port/db
  const size_t at = url.find('@'), colon = url.find(':', at), slash = url.find('/', at);
  OneConnectionForwarder forwarder(std::stoi(url.substr(colon + 1, slash - colon - 1)));
  plexus::config::Store c;
  c.kind = "postgresql";
  c.url = url.substr(0, colon + 1) + std::to_string(forwarder.port()) + url.substr(slash);
  auto store = Store::open(c, 1);
  {
    auto tx = store->begin();
    ASSERT_EQ(tx->query("SELECT 1", {}).size(), 1u);
    tx->commit();  // the connection goes back to the pool
  }
  forwarder.cut();
  auto tx = store->begin();  // the pooled connection, now dead; a new one is refused
  for (int i = 0; i < 3; ++i) {
    try {
      tx->query("SELECT 1", {});
      ADD_FAILURE() << "statement " << i << " on a lost connection succeeded";
    } catch (const SqlError& e) {
      EXPECT_TRUE(e.transient()) << "statement " << i << ": " << e.what();
    }
  }
  EXPECT_THROW(tx->commit(), SqlError);
}
#endif

}  // namespace
