// Live upgrade of a plugin in a running embedded host (plugin/reload.hpp), through the real
// binary, the real loader and real HTTP: version 1 -> 2 under order load, refused versions 3,
// SIGHUP, draining, and a plugin file overwritten in place under a running host.
#include "live_support.hpp"
#include "support.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <future>

namespace {

using nlohmann::json;
using plexus::test::eventually;
using plexus::test::HostProcess;
using plexus::test::http;
using plexus::test::installFile;
using plexus::test::OrderLoad;
using plexus::test::TempDir;
using plexus::test::testPlugin;

constexpr const char* kLib = "plexus_live.so";

using plexus::test::LiveHost;
using plexus::test::LiveHostOptions;

LiveHostOptions starting(const std::string& first) {
  LiveHostOptions o;
  o.first = first;
  return o;
}

double metric(const std::string& text, const std::string& series) {
  const size_t at = text.find(series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 1));
}

TEST(Reload, UpgradesUnderOrderLoadWithoutAFailedRequestLostMessageOrReorder) {
  LiveHost live;
  OrderLoad load(live.port(), 4, 3, "/api/live/stats");
  ASSERT_TRUE(eventually([&] { return load.orders() >= 100; }, 60000));
  live.install("live_v2");
  const auto r = live.reload();
  ASSERT_EQ(r.status, 200) << r.body;
  const json outcome = json::parse(r.body);
  EXPECT_EQ(outcome["from"], "1.0.0");
  EXPECT_EQ(outcome["to"], "2.0.0");
  EXPECT_EQ(outcome["migrationsApplied"], 1);
  EXPECT_TRUE(outcome["drained"].get<bool>());
  const int64_t atSwitch = load.orders();
  ASSERT_TRUE(eventually([&] { return load.orders() >= atSwitch + 100; }, 60000));
  load.stop();

  EXPECT_EQ(load.failures(), 0);
  EXPECT_EQ(load.readFailures(), 0);
  EXPECT_EQ(load.readyFailures(), 0);  // readiness stayed 200 throughout
  // Each client sends one request after the other: once version 2 answered, 1 never does again.
  int64_t v1 = 0, v2 = 0;
  for (const auto& client : load.answers()) {
    bool upgraded = false;
    for (const auto& a : client) {
      if (a.version == "2.0.0") {
        upgraded = true;
        EXPECT_TRUE(a.receipt);  // the response field version 2 adds
        ++v2;
      } else {
        EXPECT_FALSE(upgraded) << "version 1 answered after version 2 did";
        EXPECT_EQ(a.version, "1.0.0");
        ++v1;
      }
    }
  }
  EXPECT_GT(v1, 0);
  EXPECT_GT(v2, 0);
  // Every order's event reached the log exactly once, per stream in seq order.
  const int64_t orders = load.orders();
  ASSERT_TRUE(eventually([&] { return live.stats()["log"].get<int64_t>() == orders; }, 30000))
      << live.stats().dump() << " orders " << orders;
  EXPECT_EQ(live.stats()["orders"].get<int64_t>(), orders);
  for (const auto& [stream, n] : load.streams()) {
    const json log = json::parse(http(live.port(), "GET", "/api/live/log/" + stream).body);
    ASSERT_EQ(static_cast<int64_t>(log.size()), n) << stream;
    for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i][0].get<int64_t>(), int64_t(i) + 1);
  }
  // The version that handled each message is on the metrics.
  const std::string m = http(live.port(), "GET", "/metrics").body;
  const std::string series =
      R"(plexus_messages_handled_total{handler="live/LiveLog",type="LiveOrderPlaced",version=")";
  EXPECT_GT(metric(m, series + "1.0.0\"}"), 0) << m;
  EXPECT_GT(metric(m, series + "2.0.0\"}"), 0);
  EXPECT_EQ(metric(m, R"(plexus_plugin_info{plugin="live",version="2.0.0"})"), 1);
  EXPECT_EQ(metric(m, R"(plexus_plugin_info{plugin="live",version="1.0.0"})"), 0);
}

TEST(Reload, RefusesBrokenVersionsAndTheServingOneGoesOn) {
  LiveHost live;
  live.install("live_v2");
  ASSERT_EQ(live.reload().status, 200);
  EXPECT_EQ(live.place("before")["version"], "2.0.0");
  struct Case {
    std::string what, plugin, pin, expected;
  };
  const std::vector<Case> cases{
      {"sha256 pin", "live_v2", std::string(64, 'a'), "sha256 mismatch"},
      {"ABI", "test_abi_major", "", "ABI major"},
      {"failing migration", "live_v3_migration", "", "migration"},
      {"throwing create", "live_v3_create", "", "failed to start"},
      {"a changed shape", "live_v3_shape", "", "adds route GetPing"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    live.install(c.plugin);
    live.writeConfig(c.pin);
    const auto r = live.reload();
    EXPECT_EQ(r.status, 409) << r.body;
    const json body = json::parse(r.body);
    EXPECT_NE(body.value("error", "").find(c.expected), std::string::npos) << r.body;
    EXPECT_EQ(body["serving"], "2.0.0");
    EXPECT_EQ(http(live.port(), "GET", "/health/ready").status, 200);
    const json placed = live.place("after-" + c.plugin + std::to_string(c.pin.size()));
    EXPECT_EQ(placed["version"], "2.0.0");
    EXPECT_TRUE(placed.contains("receipt"));
  }
  live.writeConfig("");
  // The failed migration left nothing behind: the table it named was never created, and the
  // log has every order.
  ASSERT_TRUE(eventually([&] { return live.stats()["log"].get<int64_t>() == 6; }, 20000))
      << live.stats().dump();
  EXPECT_NE(live.host->output().find("plugin reload refused"), std::string::npos);
}

// 2.0 -> 2.1 ships no migration, so the reload does not wait for the store: it switches while
// the slow call runs and then waits for it (with SQLite, a migration would wait for the
// transaction of the slow call first).
TEST(Reload, CallsRunningOnTheOldVersionFinishThere) {
  LiveHost live(starting("live_v2"));
  auto slow = std::async(std::launch::async, [&] {
    return http(live.port(), "POST", "/api/live/orders",
                json{{"orderId", "slow"}, {"stream", "x"}, {"workMs", 1500}}.dump());
  });
  // The slow call runs on version 1 (its receptor logs when it starts working).
  ASSERT_TRUE(eventually(
      [&] { return live.host->output().find("slow call started") != std::string::npos; }));
  live.install("live_v2_1");
  const auto r = live.reload();
  ASSERT_EQ(r.status, 200) << r.body;
  const json outcome = json::parse(r.body);
  EXPECT_EQ(outcome["migrationsApplied"], 0);
  EXPECT_TRUE(outcome["drained"].get<bool>());
  EXPECT_GT(outcome["drainMs"].get<int64_t>(), 100);  // it waited for the slow call
  const auto s = slow.get();
  ASSERT_EQ(s.status, 201) << s.body;
  EXPECT_EQ(json::parse(s.body)["version"], "2.0.0");  // finished on the version it began on
  EXPECT_EQ(live.place("next")["version"], "2.1.0");
}

TEST(Reload, SighupReloadsWhatChanged) {
  LiveHost live;
  EXPECT_EQ(live.place("one")["version"], "1.0.0");
  live.install("live_v2");
  live.host->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] {
    return live.host->output().find("\"msg\":\"plugin reloaded\"") != std::string::npos;
  })) << live.host->output();
  EXPECT_EQ(live.place("two")["version"], "2.0.0");
  live.host->signal(SIGHUP);  // nothing changed: nothing reloads, the host goes on
  EXPECT_EQ(live.place("three")["version"], "2.0.0");
  EXPECT_EQ(http(live.port(), "GET", "/health").status, 200);
}

// The issue's measurement: `printf garbage > plugin.so` next to a running host used to kill it,
// since the dynamic linker maps the file itself. The host maps a private copy now.
TEST(Reload, OverwritingTheLoadedFileInPlaceDoesNotHarmTheHost) {
  LiveHost live;
  EXPECT_EQ(live.place("before")["version"], "1.0.0");
  plexus::test::overwriteInPlace(live.dir.file(kLib), "garbage");
  EXPECT_EQ(live.place("after-garbage")["version"], "1.0.0");
  // A plain cp of another version writes into the same inode too.
  std::ifstream in(testPlugin("live_v2"), std::ios::binary);
  const std::string v2((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  plexus::test::overwriteInPlace(live.dir.file(kLib), v2);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(live.place("after-cp-" + std::to_string(i))["version"], "1.0.0");
  EXPECT_EQ(http(live.port(), "GET", "/health/ready").status, 200);
  EXPECT_FALSE(live.host->waitExit(50).has_value());  // still running
}

}  // namespace
