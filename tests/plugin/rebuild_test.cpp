// Rebuilding a read model from history beside the one that serves, while orders keep flowing
// (rebuild/): through the real binary, the admin API and the `rebuild` command. Embedded
// (SQLite, in-process bus; tier plugin) and, built with PLEXUS_TEST_POSTGRES, on the real
// PostgreSQL server (tier integration): a shadow schema, the switch by moving tables.
#include "live_support.hpp"
#include "support.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;
using plexus::test::eventually;
using plexus::test::http;
using plexus::test::LiveHost;
using plexus::test::LiveHostOptions;
using plexus::test::OrderLoad;

LiveHostOptions options(int graceSeconds = 2) {
  LiveHostOptions o;
#ifdef PLEXUS_TEST_POSTGRES
  o.postgres = true;
#endif
  o.graceSeconds = graceSeconds;
  return o;
}

// Orders until `n` were placed (4 clients, 3 streams each).
int64_t placeOrders(const LiveHost& live, int64_t n) {
  OrderLoad load(live.port(), 4, 3, "", "a-");
  EXPECT_TRUE(eventually([&] { return load.orders() >= n; }, 120000));
  load.stop();
  EXPECT_EQ(load.failures(), 0) << load.statuses();
  return load.orders();
}

// Every order's event reached both read models (the in-process bus is asynchronous).
void waitForModels(const LiveHost& live, int64_t orders) {
  EXPECT_TRUE(eventually(
      [&] {
        const json s = live.stats();
        return s.value("log", -1) == orders && s.value("summaries", -1) == orders;
      },
      60000))
      << live.stats().dump() << " orders " << orders;
}

TEST(Rebuild, ReplaysBesideTheServingModelWhileOrdersFlowThenSwitchesAndDropsTheOld) {
  LiveHost live(options());
  const int64_t before = placeOrders(live, 300);
  waitForModels(live, before);  // (the bus is asynchronous: nothing of version 1 still on its way)
  // Version 2 computes a new column; its migration adds it, so the rows before it have none.
  live.install("live_v2");
  ASSERT_EQ(live.reload().status, 200);
  EXPECT_EQ(live.stats()["summariesWithLines"], 0);

  OrderLoad load(live.port(), 3, 3, "/api/live/summary/a-" + OrderLoad::stream(0, 0) + "-1", "b-");
  const auto summary = live.rebuild("live/LiveSummary");
  ASSERT_EQ(summary.status, 202) << summary.body;
  // LiveLog only inserts (message id is its key, position is per stream): applied twice or out
  // of order, it would show.
  const auto log = live.rebuild("live/LiveLog");
  ASSERT_EQ(log.status, 202) << log.body;
  std::vector<json> done;
  for (const auto& started : {summary, log}) {
    const std::string id = json::parse(started.body)["id"];
    const json r = live.waitRebuild(id, {"switched", "dropped", "failed"});
    ASSERT_FALSE(r.is_null()) << "rebuild " << id << " did not finish";
    ASSERT_NE(r["state"], "failed") << r.dump();
    done.push_back(r);
  }
  const int64_t atSwitch = load.orders();
  ASSERT_TRUE(eventually([&] { return load.orders() >= atSwitch + 30; }, 60000));
  load.stop();

  EXPECT_EQ(load.failures(), 0) << load.statuses();
  EXPECT_EQ(load.readFailures(), 0);  // reads of the model never failed, across the switch
  EXPECT_GT(load.reads(), 0);
  EXPECT_EQ(load.readyFailures(), 0);
  EXPECT_EQ(done[0]["tables"], json::array({"live_summary"}));
  EXPECT_EQ(done[1]["tables"], json::array({"live_log"}));
  EXPECT_GE(done[0]["events"].get<int64_t>(), 300);

  const int64_t orders = before + load.orders();
  EXPECT_EQ(live.stats()["orders"].get<int64_t>(), orders);
  waitForModels(live, orders);
  EXPECT_EQ(live.stats()["summariesWithLines"].get<int64_t>(), orders);  // history included
  for (int c = 0; c < 4; ++c) {
    for (int k = 0; k < 3; ++k) {
      const std::string stream = OrderLoad::stream(c, k);
      const json entries = json::parse(http(live.port(), "GET", "/api/live/log/" + stream).body);
      for (size_t i = 0; i < entries.size(); ++i) {
        ASSERT_EQ(entries[i][1].get<int64_t>(), int64_t(i) + 1) << stream;  // positions 1..n
      }
    }
  }
  // The retired copies go after the grace period; no shadow is left either.
  for (const auto& r : done) {
    const json dropped = live.waitRebuild(r["id"], {"dropped"}, 60000);
    ASSERT_FALSE(dropped.is_null()) << r.dump();
  }
  EXPECT_EQ(live.leftovers(), std::vector<std::string>{});
  EXPECT_EQ(http(live.port(), "GET", "/admin/rebuilds").status, 200);
}

TEST(Rebuild, AFailedRebuildLeavesTheServingModelAndNoShadow) {
  LiveHost live(options());
  const int64_t orders = placeOrders(live, 20);
  waitForModels(live, orders);
  const auto started = live.rebuild("live/LiveSummary", json::array({"live_no_such_table"}));
  ASSERT_EQ(started.status, 202) << started.body;
  const json r = live.waitRebuild(json::parse(started.body)["id"], {"failed", "switched"});
  ASSERT_EQ(r.value("state", ""), "failed") << r.dump();
  EXPECT_NE(r.value("error", "").find("live_no_such_table"), std::string::npos) << r.dump();
  EXPECT_EQ(live.stats()["summaries"].get<int64_t>(), orders);
  EXPECT_EQ(live.place("after")["version"], "1.0.0");
  EXPECT_EQ(live.leftovers(), std::vector<std::string>{});
}

TEST(Rebuild, RefusesWhatItCannotRebuildWithAReason) {
  LiveHost live(options());
  EXPECT_EQ(live.rebuild("live").status, 400);
  EXPECT_EQ(live.rebuild("nope/LiveSummary").status, 404);
  const auto r = live.rebuild("live/PlaceLiveOrder");  // a receptor, not a perspective
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("no perspective"), std::string::npos) << r.body;
  EXPECT_EQ(http(live.port(), "POST", "/admin/rebuilds", "[]").status, 400);
}

// The command a Kubernetes Job runs: another process, against the store the host serves from.
TEST(Rebuild, TheRebuildCommandSwitchesWhileTheHostServes) {
  LiveHost live(options());
  placeOrders(live, 100);
  live.install("live_v2");
  ASSERT_EQ(live.reload().status, 200);
  OrderLoad load(live.port(), 2, 2, "/api/live/stats", "b-");
  const auto r = plexus::test::runHost(
      {"rebuild", "--config", live.config(), "--component", "live/LiveSummary"});
  load.stop();
  ASSERT_EQ(r.exitCode, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("switched to the rebuilt read model"), std::string::npos) << r.out;
  EXPECT_EQ(load.failures(), 0) << load.statuses();
  EXPECT_EQ(load.readFailures(), 0);
  const int64_t orders = live.stats()["orders"].get<int64_t>();
  waitForModels(live, orders);
  EXPECT_EQ(live.stats()["summariesWithLines"].get<int64_t>(), orders);
  const auto usage = plexus::test::runHost({"rebuild", "--config", live.config()});
  EXPECT_EQ(usage.exitCode, 64);
}

}  // namespace
