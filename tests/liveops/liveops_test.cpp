// Live operations across hosts and at size. Distributed: two deployments on the PostgreSQL and
// RabbitMQ of scripts/services, each in a schema of its own; the report deployment's perspective
// gets its events from the orders deployment's event store only through the broker (replay
// request + tap). Long (opt-in tier liveops): 10,000 orders rebuilt while orders keep flowing,
// embedded and distributed, with the rebuild rate against the same replay as one SQL statement;
// request latency during reloads against the same load without them. Figures are printed, never
// asserted.
#include "live_support.hpp"
#include "store/store.hpp"
#include "support.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

namespace {

using nlohmann::json;
using plexus::test::eventually;
using plexus::test::http;
using plexus::test::LiveHost;
using plexus::test::LiveHostOptions;
using plexus::test::OrderLoad;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void figure(const std::string& line) {
  std::printf("[liveops] %s\n", line.c_str());
  std::fflush(stdout);
}

bool ready(const LiveHost& h) {
  const auto r = http(h.port(), "GET", "/health/ready");
  return r.status == 200 &&
         (!h.options().broker || r.body.find("\"broker\":\"connected\"") != std::string::npos);
}

// Two deployments: "orders" places orders and keeps the log; "report" keeps the summary, from
// events it only ever receives through the broker.
struct System {
  static LiveHostOptions ordersOptions(int grace) {
    LiveHostOptions o;
    o.service = "liveorders-" + std::to_string(::getpid());
    o.schema = "liveorders_" + std::to_string(::getpid());
    o.postgres = o.broker = true;
    o.components = {"PlaceLiveOrder", "LiveLog", "PostOrder", "GetLog", "GetStats"};
    o.graceSeconds = grace;
    return o;
  }
  static LiveHostOptions reportOptions(int grace) {
    LiveHostOptions o;
    o.service = "livereport-" + std::to_string(::getpid());
    o.schema = "livereport_" + std::to_string(::getpid());
    o.postgres = o.broker = true;
    o.components = {"LiveSummary", "GetSummary", "GetStats"};
    o.graceSeconds = grace;
    o.extra = {{"rebuild", {{"sources", {ordersOptions(grace).service}}}}};
    return o;
  }
  explicit System(int grace) : orders(ordersOptions(grace)), report(reportOptions(grace)) {
    EXPECT_TRUE(eventually([&] { return ready(orders) && ready(report); }, 60000));
  }
  LiveHost orders;
  LiveHost report;
};

int64_t placeOrders(const LiveHost& h, int64_t n, int clients, const std::string& prefix) {
  const auto start = Clock::now();
  OrderLoad load(h.port(), clients, 4, "", prefix);
  EXPECT_TRUE(eventually([&] { return load.orders() >= n; }, 600000, 200));
  load.stop();
  EXPECT_EQ(load.failures(), 0) << load.statuses();
  figure("placed " + std::to_string(load.orders()) + " orders in " +
         std::to_string(secondsSince(start)) + " s");
  return load.orders();
}

void waitFor(const LiveHost& h, const char* key, int64_t n, int timeoutMs = 300000) {
  EXPECT_TRUE(eventually([&] { return h.stats().value(key, int64_t{-1}) == n; }, timeoutMs, 200))
      << key << " " << h.stats().dump() << " expected " << n;
}

// The replay of the history alone (before the catch-up and the switch), from the last
// "rebuild: history replayed" log line in `output`.
std::string historyFigure(const std::string& output) {
  const size_t at = output.rfind("\"msg\":\"rebuild: history replayed\"");
  if (at == std::string::npos) return "(no history log line)";
  const size_t begin = output.rfind('{', at), end = output.find('\n', at);
  const json line = json::parse(output.substr(begin, end - begin), nullptr, false);
  if (!line.is_object()) return "(unreadable history log line)";
  return std::to_string(line.value("events", 0)) + " events in " +
         std::to_string(line.value("seconds", 0.0)) +
         " s = " + std::to_string(line.value("events_per_second", 0.0)) + " events/s";
}

// The same rebuild again with nothing else running: the replay rate without competing load.
void quietRebuild(const LiveHost& reader, const std::string& where) {
  const auto started = reader.rebuild("live/LiveSummary");
  ASSERT_EQ(started.status, 202) << started.body;
  const json r =
      reader.waitRebuild(json::parse(started.body)["id"], {"switched", "failed"}, 600000);
  ASSERT_EQ(r.value("state", ""), "switched") << r.dump();
  figure(where +
         " history replayed, nothing else running: " + historyFigure(reader.host->output()));
}

// Rebuild the summary (a new column) while orders flow on `writer` and reads go to `reader`;
// `viaCommand`: the rebuild command in another process (a Kubernetes Job), else the admin API.
// Returns the rebuild's record.
json rebuildUnderLoad(const LiveHost& writer, const LiveHost& reader, bool viaCommand,
                      const std::string& readId, int64_t& orders) {
  OrderLoad load(writer.port(), 3, 3, "", "b-");
  OrderLoad reads(reader.port(), 0, 1, "/api/live/summary/" + readId);
  json record;
  std::string output;
  const auto start = Clock::now();
  if (viaCommand) {
    const auto r = plexus::test::runHost(
        {"rebuild", "--config", reader.config(), "--component", "live/LiveSummary"});
    EXPECT_EQ(r.exitCode, 0) << r.err << r.out;
    output = r.out;
    const json list = json::parse(http(reader.port(), "GET", "/admin/rebuilds?limit=1").body);
    record = list["rebuilds"].at(0);
  } else {
    const auto started = reader.rebuild("live/LiveSummary");
    EXPECT_EQ(started.status, 202) << started.body;
    record = reader.waitRebuild(json::parse(started.body)["id"], {"switched", "failed"}, 1200000);
    output = reader.host->output();
  }
  figure("history replayed, orders flowing: " + historyFigure(output));
  figure(std::string("rebuild ") + (viaCommand ? "command" : "through the admin API") + ": " +
         std::to_string(secondsSince(start)) + " s to the switch; " + record.dump());
  const int64_t atSwitch = load.orders();
  EXPECT_TRUE(eventually([&] { return load.orders() >= atSwitch + 50; }, 120000));
  load.stop();
  reads.stop();
  EXPECT_EQ(load.failures(), 0) << load.statuses();
  EXPECT_EQ(reads.readFailures(), 0);
  EXPECT_GT(reads.reads(), 0);
  orders += load.orders();
  return record;
}

void checkRebuilt(const LiveHost& reader, const json& record, int64_t orders,
                  const std::string& source) {
  ASSERT_EQ(record.value("state", ""), "switched") << record.dump();
  EXPECT_EQ(record["source"], source);
  EXPECT_EQ(record["tables"], json::array({"live_summary"}));
  waitFor(reader, "summaries", orders);
  EXPECT_EQ(reader.stats()["summariesWithLines"].get<int64_t>(), orders);  // history too
  EXPECT_FALSE(reader.waitRebuild(record["id"], {"dropped"}, 60000).is_null());
  EXPECT_EQ(reader.leftovers(), std::vector<std::string>{});
}

// Events per second from the start to the switch (the record as it switched).
double rateOf(const json& r) { return r.value("eventsPerSecond", 0.0); }

// The same replay as LiveSummary version 2, as one SQL statement over the event store (what a
// hand-written backfill would do, with direct access to the emitter's database): events/s.
double plainSqlReplay(plexus::store::Store& db, const std::string& events, const std::string& into,
                      bool postgres) {
  {
    auto tx = db.begin();
    tx->exec("DROP TABLE IF EXISTS " + into);
    tx->exec("CREATE TABLE " + into +
             " (order_id TEXT PRIMARY KEY, items BIGINT NOT NULL, lines BIGINT NOT NULL)");
    tx->commit();
  }
  const std::string select =
      postgres ? "SELECT payload::jsonb->>'orderId', (SELECT COALESCE(SUM((l->>'qty')::bigint), 0) "
                 "FROM jsonb_array_elements(payload::jsonb->'lines') l), "
                 "jsonb_array_length(payload::jsonb->'lines') FROM " +
                     events + " WHERE type = 'LiveOrderPlaced'"
               : "SELECT json_extract(payload, '$.orderId'), (SELECT COALESCE(SUM(json_extract("
                 "value, '$.qty')), 0) FROM json_each(payload, '$.lines')), "
                 "json_array_length(payload, '$.lines') FROM " +
                     events + " WHERE type = 'LiveOrderPlaced' AND 1 = 1";
  const auto start = Clock::now();
  int64_t n = 0;
  {  // (a SQLite transaction holds the store until it is destroyed)
    auto tx = db.begin();
    n = tx->exec("INSERT INTO " + into + " (order_id, items, lines) " + select +
                 " ON CONFLICT (order_id) DO UPDATE SET items = excluded.items, lines = "
                 "excluded.lines");
    tx->commit();
  }
  const double s = secondsSince(start);
  {
    auto drop = db.begin();
    drop->exec("DROP TABLE " + into);
    drop->commit();
  }
  figure("plain SQL replay: " + std::to_string(n) + " events in " + std::to_string(s) +
         " s = " + std::to_string(s > 0 ? double(n) / s : 0) + " events/s");
  return s > 0 ? double(n) / s : 0;
}

// Latency of placing orders for `seconds` from `clients` clients, while `during` runs (once).
std::vector<double> latencies(const LiveHost& h, double seconds, const std::string& prefix,
                              const std::function<void()>& during, int64_t& failures) {
  OrderLoad load(h.port(), 4, 4, "", prefix);
  const auto start = Clock::now();
  if (during) during();
  while (secondsSince(start) < seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the load's duration
  }
  load.stop();
  failures += load.failures();
  std::vector<double> ms;
  for (const auto& c : load.answers()) {
    for (const auto& a : c) ms.push_back(a.ms);
  }
  return ms;
}

std::string summary(const std::vector<double>& ms) {
  using plexus::test::percentile;
  char buf[200];
  std::snprintf(buf, sizeof buf, "%zu requests, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms",
                ms.size(), percentile(ms, 50), percentile(ms, 95), percentile(ms, 99),
                percentile(ms, 100));
  return buf;
}

// Reloads during a load against the same load without them; then per-stream order, nothing lost
// or handled twice (the log).
void measureReload(LiveHost& h, const std::string& where) {
  int64_t failures = 0;
  const auto quiet = latencies(h, 10, "q-", nullptr, failures);
  std::vector<std::string> outcomes;
  const auto reloading = latencies(
      h, 10, "r-",
      [&] {
        // 1 -> 2 (a migration), then 2 -> 2.1 -> 2 -> 2.1 (none), one after the other.
        for (const char* v : {"live_v2", "live_v2_1", "live_v2", "live_v2_1"}) {
          h.install(v);
          const auto r = h.reload();
          EXPECT_EQ(r.status, 200) << r.body;
          outcomes.push_back(r.body);
          std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // load in between
        }
      },
      failures);
  EXPECT_EQ(failures, 0);
  figure(where + " without a reload: " + summary(quiet));
  figure(where + " with 4 reloads:   " + summary(reloading));
  for (const auto& o : outcomes) figure(where + " reload: " + o);
  const int64_t orders = static_cast<int64_t>(quiet.size() + reloading.size());
  waitFor(h, "log", h.stats()["orders"].get<int64_t>());
  EXPECT_EQ(h.stats()["orders"].get<int64_t>(), orders);
  for (int c = 0; c < 4; ++c) {
    for (int k = 0; k < 4; ++k) {
      const json log =
          json::parse(http(h.port(), "GET", "/api/live/log/" + OrderLoad::stream(c, k)).body);
      for (size_t i = 0; i < log.size(); ++i) ASSERT_EQ(log[i][1].get<int64_t>(), int64_t(i) + 1);
    }
  }
}

// `n` orders on `writer`; version 2 (a new column) on `reader`; its summary rebuilt while orders
// flow, then checked. Returns the orders placed.
int64_t upgradeAndRebuild(const LiveHost& writer, const LiveHost& reader, int64_t n,
                          bool viaCommand, const std::string& source, const std::string& where) {
  int64_t orders = placeOrders(writer, n, n >= 1000 ? 8 : 4, "a-");
  waitFor(reader, "summaries", orders);
  reader.install("live_v2");
  EXPECT_EQ(reader.reload().status, 200);
  const json record = rebuildUnderLoad(writer, reader, viaCommand, "a-c0-s0-1", orders);
  figure(where + " rebuild: " + std::to_string(record.value("events", 0)) + " events at " +
         std::to_string(rateOf(record)) + " events/s from the start to the switch");
  checkRebuilt(reader, record, orders, source);
  EXPECT_GE(record.value("events", int64_t{0}), n);
  return orders;
}

}  // namespace

TEST(Distributed, RebuildsFromAnotherDeploymentsEventStoreThroughTheBroker) {
  System s(2);
  const int64_t orders = upgradeAndRebuild(s.orders, s.report, 200, true, "broker", "distributed");
  waitFor(s.orders, "log", orders);
}

TEST(Long, EmbeddedRebuildOfTenThousandOrdersWhileOrdersFlow) {
  LiveHostOptions o;
  o.graceSeconds = 3;
  LiveHost h(o);
  upgradeAndRebuild(h, h, 10000, false, "local", "embedded");
  quietRebuild(h, "embedded");
  auto db = h.openStore();
  plainSqlReplay(*db, "plexus_events", "plain_summary", false);
}

TEST(Long, DistributedRebuildOfTenThousandOrdersWhileOrdersFlow) {
  System s(3);
  upgradeAndRebuild(s.orders, s.report, 10000, true, "broker", "distributed (broker replay)");
  quietRebuild(s.report, "distributed (broker replay)");
  auto db = s.report.openStore();
  plainSqlReplay(*db, s.orders.options().schema + ".plexus_events",
                 s.report.options().schema + ".plain_summary", true);
}

TEST(Long, RequestLatencyDuringReloadsEmbedded) {
  LiveHost h;
  measureReload(h, "embedded");
}

TEST(Long, RequestLatencyDuringReloadsDistributed) {
  System s(600);
  measureReload(s.orders, "distributed");
}
