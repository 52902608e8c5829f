// Dependencies that hang instead of failing (issue 20): PostgreSQL and RabbitMQ of
// scripts/services stopped with SIGSTOP (`scripts/services freeze`), so they accept TCP but never
// answer, under the order-service host. Requests fail fast with 503 within their deadline (or, for
// the broker, are accepted into the outbox), readiness says why within its budget, threads and
// descriptors stay flat, and after SIGCONT everything resumes with nothing lost.
#include "load.hpp"
#include "store/store.hpp"
#include "support.hpp"
#include "system.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>

namespace {

using nlohmann::json;
using plexus::test::HostProcess;
using plexus::test::http;
using Clock = std::chrono::steady_clock;
using plexus::test::msSince;

// SIGSTOP for the scope; SIGCONT at the latest when it ends, whatever the test did.
class Frozen {
 public:
  explicit Frozen(std::string name) : name_(std::move(name)) {
    plexus::faults::System::services("freeze", name_);
  }
  ~Frozen() { thaw(); }
  void thaw() {
    if (thawed_) return;
    thawed_ = true;
    plexus::faults::System::services("thaw", name_);
  }

 private:
  std::string name_;
  bool thawed_ = false;
};

class DependencyHang : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* pg = std::getenv("PLEXUS_PG_URL");
    const char* amqp = std::getenv("PLEXUS_AMQP_URL");
    if (pg == nullptr || amqp == nullptr) GTEST_SKIP() << "PLEXUS_PG_URL / PLEXUS_AMQP_URL unset";
    env_ = {{"PLEXUS_HTTP_PORT", "0"},
            {"PLEXUS_MANAGEMENT_PORT", "0"},
            {"PLEXUS_PLUGIN_DIR", PLEXUS_PLUGIN_DIR},
            {"PLEXUS_PG_URL", pg},
            {"PLEXUS_AMQP_URL", amqp}};
    const std::string config = std::string(PLEXUS_SOURCE_DIR) + "/config/order-service.json";
    const auto m = plexus::test::runHost({"migrate", "--config", config}, env_);
    ASSERT_EQ(m.exitCode, 0) << m.err;
    host_ = std::make_unique<HostProcess>(config, env_);
    ASSERT_TRUE(plexus::test::eventually(
        [&] { return readiness().second.value("status", "") == "ready"; }, 60000, 100));
    plexus::config::Store sc;
    sc.kind = "postgresql";
    sc.url = pg;
    db_ = plexus::store::Store::open(sc, 1);
  }
  void TearDown() override { host_.reset(); }

  // (status, body) of /health/ready on the management port, and how long it took.
  std::pair<int, json> readiness(double* ms = nullptr) {
    const auto t = Clock::now();
    try {
      const auto r = http(host_->managementPort(), "GET", "/health/ready");
      if (ms != nullptr) *ms = msSince(t);
      return {r.status, json::parse(r.body, nullptr, false)};
    } catch (const std::exception&) {
      if (ms != nullptr) *ms = msSince(t);
      return {-1, json()};
    }
  }
  plexus::test::HttpResult post(const std::string& customer, const std::string& key) {
    return http(host_->port(), "POST", "/api/orders",
                plexus::hostile::orderJson(customer, "hang-mug", 5.25), {{"Idempotency-Key", key}});
  }
  int64_t count(const std::string& sql, const std::string& param) {
    auto tx = db_->begin();
    const auto rows = tx->query(sql, {plexus::Value(param)});
    tx->commit();
    return rows.at(0).at(0).asInt();
  }
  plexus::hostile::ProcStats stats() { return plexus::hostile::procStats(host_->pid()); }

  std::map<std::string, std::string> env_;
  std::unique_ptr<HostProcess> host_;
  std::unique_ptr<plexus::store::Store> db_;
};

TEST_F(DependencyHang, PostgresThatStopsAnsweringFailsFastAndResumes) {
  const std::string customer = "hang-pg-" + std::to_string(::getpid());
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(post(customer, customer + "-pre-" + std::to_string(i)).status, 201);
  const auto before = stats();
  plexus::hostile::ProcStats during;
  std::vector<std::string> keys;
  std::vector<double> failMs;
  int accepted = 0, failed = 0, other = 0;
  double readyMs = 0, liveMs = 0;
  std::pair<int, json> ready;
  {
    Frozen frozen("postgres");
    // 4 clients, 6 orders each, while PostgreSQL does not answer.
    std::mutex mu;
    std::vector<std::future<void>> clients;
    for (int c = 0; c < 4; ++c) {
      clients.push_back(std::async(std::launch::async, [&, c] {
        for (int i = 0; i < 6; ++i) {
          const std::string key = customer + "-" + std::to_string(c) + "-" + std::to_string(i);
          const auto t = Clock::now();
          int status = -1;
          try {
            status = post(customer, key).status;
          } catch (const std::exception&) {
          }
          std::lock_guard<std::mutex> lock(mu);
          keys.push_back(key);
          if (status == 503) {
            ++failed;
            failMs.push_back(msSince(t));
          } else if (status == 201) {
            ++accepted;
          } else {
            ++other;
          }
        }
      }));
    }
    ready = readiness(&readyMs);
    const auto t = Clock::now();
    EXPECT_EQ(http(host_->port(), "GET", "/health").status, 200);
    liveMs = msSince(t);
    for (auto& f : clients) f.get();
    during = stats();
  }
  const auto thawed = Clock::now();
  ASSERT_TRUE(plexus::test::eventually(
      [&] { return readiness().second.value("status", "") == "ready"; }, 60000, 50));
  const double resumeMs = msSince(thawed);
  // The client retries what failed with the same key (docs/operations.md): nothing is lost,
  // nothing is doubled.
  int retried = 0;
  for (const auto& key : keys) {
    const auto r = post(customer, key);
    EXPECT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
    ++retried;
  }
  const int64_t orders =
      count("SELECT COUNT(*) FROM order_service.orders_orders WHERE customer_id = $1", customer);
  const double worst = failMs.empty() ? 0 : plexus::hostile::quantile(failMs, 1.0);
  std::printf(
      "[figure] PostgreSQL SIGSTOP: %d requests failed with 503 (median %.0f ms, worst %.0f ms; "
      "request deadline 30000 ms, PostgreSQL round trip 10000 ms, session wait 5000 ms), %d "
      "accepted, %d other; readiness %d in %.0f ms (%s); liveness in %.1f ms; host threads %d -> "
      "%d, fds %d -> %d; ready again %.0f ms after SIGCONT; %d retried with their keys, %lld "
      "orders stored for %zu keys + 3\n",
      failed, failMs.empty() ? 0 : plexus::hostile::quantile(failMs, 0.5), worst, accepted, other,
      ready.first, readyMs, ready.second.dump().c_str(), liveMs, before.threads, during.threads,
      before.fds, during.fds, resumeMs, retried, static_cast<long long>(orders), keys.size());
  EXPECT_EQ(other, 0);
  EXPECT_GT(failed, 0);
  EXPECT_LT(worst, 30000 + 2000);  // within the request deadline
  EXPECT_EQ(ready.first, 503);
  EXPECT_LT(readyMs, 5000);
  EXPECT_NE(ready.second.dump().find("store not answering"), std::string::npos);
  EXPECT_LT(during.threads, before.threads + 70);
  EXPECT_LT(during.fds, before.fds + 40);
  EXPECT_EQ(orders, static_cast<int64_t>(keys.size()) + 3);
}

TEST_F(DependencyHang, BrokerThatAcceptsButNeverAnswersDegradesAndCatchesUp) {
  const std::string customer = "hang-mq-" + std::to_string(::getpid());
  const auto before = stats();
  plexus::hostile::ProcStats during;
  std::vector<std::string> ids;
  std::vector<double> acceptMs;
  double degradedAfterMs = 0;
  json degraded;
  {
    Frozen frozen("rabbitmq");
    const auto frozenAt = Clock::now();
    for (int i = 0; i < 20; ++i) {
      const auto t = Clock::now();
      const auto r = post(customer, customer + "-" + std::to_string(i));
      acceptMs.push_back(msSince(t));
      ASSERT_EQ(r.status, 201) << r.body;
      ids.push_back(json::parse(r.body)["orderId"]);
    }
    // Readiness stays 200 (commands still go to the outbox) and says the broker is degraded.
    ASSERT_TRUE(plexus::test::eventually(
        [&] {
          const auto r = readiness();
          degraded = r.second;
          return r.first == 200 &&
                 r.second["checks"]["broker"].get<std::string>().rfind("degraded", 0) == 0;
        },
        60000, 200));
    degradedAfterMs = msSince(frozenAt);
    EXPECT_EQ(degraded["checks"]["outbox"]["pending"].get<int>() >= 20, true) << degraded.dump();
    during = stats();
  }
  const auto thawed = Clock::now();
  ASSERT_TRUE(plexus::test::eventually(
      [&] {
        const auto r = readiness().second;
        return r["checks"]["broker"] == "connected" && r["checks"]["outbox"]["pending"] == 0;
      },
      120000, 100));
  const double drainedMs = msSince(thawed);
  // Every OrderCreated went through the broker to the saga: nothing was lost on the way.
  ASSERT_TRUE(plexus::test::eventually(
      [&] {
        return count("SELECT COUNT(*) FROM order_service.order_saga_state WHERE customer_id = $1",
                     customer) == static_cast<int64_t>(ids.size());
      },
      60000, 200));
  std::printf(
      "[figure] RabbitMQ SIGSTOP: %zu orders accepted into the outbox (worst %.1f ms); readiness "
      "200 with broker \"%s\" %.0f ms after the stop; host threads %d -> %d, fds %d -> %d; outbox "
      "drained %.0f ms after SIGCONT; %zu of %zu sagas started\n",
      ids.size(), plexus::hostile::quantile(acceptMs, 1.0),
      degraded["checks"]["broker"].get<std::string>().c_str(), degradedAfterMs, before.threads,
      during.threads, before.fds, during.fds, drainedMs, ids.size(), ids.size());
  EXPECT_LT(during.threads, before.threads + 10);
  EXPECT_LT(during.fds, before.fds + 20);
}

}  // namespace
