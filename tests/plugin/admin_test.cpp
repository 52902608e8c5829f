// The admin API under the console, over real HTTP: dead letters (filters, pages, bulk actions with
// a confirmed count), streams and messages, overview and plugins, flow samples, the peers proxy
// and the console's files. Runs on SQLite (tier plugin) and, built with PLEXUS_TEST_POSTGRES, on
// the PostgreSQL server of scripts/services (tier integration), each test in a fresh schema.
#include "http/admin.hpp"
#include "admin/flow_sampler.hpp"
#include "base/clock.hpp"
#include "config/config.hpp"
#include "dispatch/dispatcher.hpp"
#include "embedded.hpp"
#include "http/server.hpp"
#include "jwt_support.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"
#include "support.hpp"

#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <set>
#include <thread>

namespace {

using nlohmann::json;
using plexus::test::http;
using plexus::test::HttpResult;

bool eventually(const std::function<bool()>& condition, int timeoutMs = 15000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a bounded condition
  }
  return condition();
}

const std::string kSecret = "admin-test-secret-0123456789-abcdef!";

class Admin : public plexus::test::EmbeddedFixture {
 protected:
  // `extra`: more top-level config keys (e.g. "console").
  void start(const std::string& extra = "") {
    cfg_ = plexus::config::parse(
        R"({"service": "admin-test", "http": {"host": "127.0.0.1", "port": 0}, "store": )" +
            plexus::test::embeddedStoreJson(dir_, schema_, "admin") + R"(,
            "transport": {"kind": "inproc", "max_attempts": 2, "retry_initial_ms": 20,
                          "retry_max_ms": 50, "poll_interval_ms": 100},
            "plugins": [{"library": ")" +
            plexus::test::testPlugin("testkit") + "\"}]" + extra + "}",
        "inline.json", [](const std::string&) { return std::nullopt; });
    wire();
    flow_ = std::make_unique<plexus::admin::FlowSampler>(metrics_, 5, 15,
                                                         [this] { return now_.load(); });
    server_->admin().attachFlow(flow_.get());
    server_->start();
    bus_->start();
    port_ = server_->port();
  }

  HttpResult get(const std::string& uri, const std::map<std::string, std::string>& headers = {}) {
    return http(port_, "GET", uri, "", headers);
  }
  json getJson(const std::string& uri) {
    const HttpResult r = get(uri);
    EXPECT_EQ(r.status, 200) << uri << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  HttpResult post(const std::string& uri, const json& body) {
    return http(port_, "POST", uri, body.dump());
  }
  void send(const json& body) { ASSERT_EQ(post("/t/count", body).status, 202); }
  size_t deadLetterCount() { return getJson("/admin/dead-letters?limit=1000").size(); }
  // `n` Count commands that REJECT: n dead letters at once.
  void rejects(const std::string& prefix, int n) {
    const size_t before = deadLetterCount();
    for (int i = 0; i < n; ++i) send({{"stream", prefix + std::to_string(i)}, {"mode", "reject"}});
    ASSERT_TRUE(eventually([&] { return deadLetterCount() == before + n; }));
  }

  std::unique_ptr<plexus::admin::FlowSampler> flow_;
  std::atomic<int64_t> now_{1'800'000'000'000};
};

TEST_F(Admin, DeadLettersFilterAndPage) {
  start();
  rejects("dl-", 3);
  HttpResult page = get("/admin/dead-letters?type=Count&limit=2");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(json::parse(page.body).size(), 2u);
  EXPECT_EQ(page.headers["X-Total-Count"], "3");
  const std::string link = page.headers["Link"];
  ASSERT_NE(link.find("rel=\"next\""), std::string::npos) << link;
  const std::string next = link.substr(1, link.find('>') - 1);
  HttpResult rest = get(next);
  ASSERT_EQ(rest.status, 200) << next << " " << rest.body;
  const json last = json::parse(rest.body);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(rest.headers.count("Link"), 0u);
  EXPECT_EQ(last[0]["reason"], "count refused");
  EXPECT_EQ(last[0]["handler"], "testkit/Count");
  EXPECT_EQ(last[0]["message"]["type"], "Count");

  EXPECT_EQ(getJson("/admin/dead-letters?reason=REFUSED").size(), 3u);        // case-insensitive
  EXPECT_EQ(getJson("/admin/dead-letters?reason=count_refused").size(), 0u);  // '_' is no wildcard
  EXPECT_EQ(getJson("/admin/dead-letters?handler=testkit%2FCount").size(), 3u);
  EXPECT_EQ(getJson("/admin/dead-letters?handler=other").size(), 0u);
  EXPECT_EQ(getJson("/admin/dead-letters?since=2999-01-01T00:00:00Z").size(), 0u);
  EXPECT_EQ(getJson("/admin/dead-letters?until=2001-01-01T00:00:00%2B02:00").size(), 0u);
  EXPECT_EQ(getJson("/admin/dead-letters?since=2001-01-01T00:00:00.5Z").size(), 3u);

  for (const char* bad : {"/admin/dead-letters?since=yesterday", "/admin/dead-letters?limit=0",
                          "/admin/dead-letters?limit=1001", "/admin/dead-letters?before=x",
                          "/admin/dead-letters?type=%zz"}) {
    const HttpResult r = get(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(json::parse(r.body, nullptr, false).contains("error")) << r.body;
  }
  const std::string id = last[0]["id"];
  const json one = getJson("/admin/dead-letters/" + id);
  EXPECT_EQ(one["id"], id);
  EXPECT_EQ(get("/admin/dead-letters/no-such-id").status, 404);
}

TEST_F(Admin, BulkActionsNeedTheConfirmedCount) {
  start();
  rejects("bulk-", 3);
  const json filter{{"type", "Count"}, {"reason", "refused"}};
  HttpResult r = post("/admin/dead-letters/discard", {{"filter", filter}, {"expectedCount", 2}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(json::parse(r.body)["count"], 3);
  EXPECT_EQ(deadLetterCount(), 3u);  // nothing done

  EXPECT_EQ(post("/admin/dead-letters/discard", {{"filter", filter}}).status, 400);
  EXPECT_EQ(post("/admin/dead-letters/discard",
                 {{"filter", filter}, {"ids", json::array()}, {"expectedCount", 3}})
                .status,
            400);
  EXPECT_EQ(
      post("/admin/dead-letters/discard", {{"filter", {{"colour", "red"}}}, {"expectedCount", 3}})
          .status,
      400);
  EXPECT_EQ(http(port_, "POST", "/admin/dead-letters/discard", "{not json").status, 400);
  EXPECT_EQ(get("/admin/dead-letters/discard").status, 405);

  // By ids: the one named.
  const std::string first = getJson("/admin/dead-letters?limit=1")[0]["id"];
  r = post("/admin/dead-letters/discard", {{"ids", {first}}, {"expectedCount", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["discarded"], 1);
  EXPECT_EQ(deadLetterCount(), 2u);

  r = post("/admin/dead-letters/discard", {{"filter", filter}, {"expectedCount", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["discarded"], 2);
  EXPECT_EQ(deadLetterCount(), 0u);
}

TEST_F(Admin, BulkRetryHandlesTheMessagesOnceTheCauseIsFixed) {
  start();
  ASSERT_EQ(http(port_, "PUT", "/t/flags/broken").status, 200);
  for (const char* s : {"retry-a", "retry-b"}) send({{"stream", s}});
  ASSERT_TRUE(eventually([&] { return deadLetterCount() == 2; }));
  ASSERT_EQ(http(port_, "DELETE", "/t/flags/broken").status, 200);
  const HttpResult r =
      post("/admin/dead-letters/retry", {{"filter", {{"type", "Count"}}}, {"expectedCount", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["retried"], 2);
  for (const char* s : {"retry-a", "retry-b"}) {
    EXPECT_TRUE(eventually([&] {
      return json::parse(get(std::string("/t/count/") + s).body)["n"] == 1;
    })) << s;
  }
  EXPECT_EQ(deadLetterCount(), 0u);
}

TEST_F(Admin, StreamsAndMessagesWithTheirLinks) {
  start();
  send({{"stream", "order-1"}, {"seq", 1}});
  send({{"stream", "order-1"}, {"seq", 2}});
  ASSERT_TRUE(eventually([&] { return getJson("/admin/streams/order-1").size() == 2; }));
  HttpResult first = get("/admin/streams/order-1?limit=1");
  ASSERT_EQ(first.status, 200);
  const json e1 = json::parse(first.body)[0];
  EXPECT_EQ(e1["version"], 1);
  EXPECT_EQ(e1["type"], "Counted");
  EXPECT_EQ(e1["payload"]["seq"], 1);
  EXPECT_EQ(e1["metadata"], "stored");
  EXPECT_FALSE(e1["correlation"].get<std::string>().empty());
  EXPECT_FALSE(e1["causation"].get<std::string>().empty());
  EXPECT_EQ(e1["source"]["service"], "admin-test");
  const std::string link = first.headers["Link"];
  ASSERT_NE(link.find("after=1"), std::string::npos) << link;
  const json e2 = json::parse(get(link.substr(1, link.find('>') - 1)).body);
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(e2[0]["version"], 2);

  // causation: the Count command that caused the event. Commands are not kept once published
  // (the outbox deletes published rows), so the link says so; events are in the event store.
  EXPECT_EQ(get("/admin/messages/" + e1["causation"].get<std::string>()).status, 404);
  const json event = getJson("/admin/messages/" + e1["messageId"].get<std::string>());
  EXPECT_EQ(event["version"], 1);
  // correlation: the events of the flow
  const json conversation =
      getJson("/admin/messages?correlation=" + e1["correlation"].get<std::string>());
  std::set<std::string> types;
  for (const auto& m : conversation) types.insert(m["type"].get<std::string>());
  EXPECT_TRUE(types.count("Counted")) << conversation.dump();

  EXPECT_EQ(getJson("/admin/streams/nothing-here").size(), 0u);
  EXPECT_EQ(get("/admin/streams/order-1?limit=501").status, 400);
  EXPECT_EQ(get("/admin/messages/no-such-message").status, 404);
  EXPECT_EQ(get("/admin/messages?correlation=bad%20id").status, 400);
  EXPECT_EQ(http(port_, "POST", "/admin/streams/order-1").status, 405);
}

TEST_F(Admin, OverviewPluginsAndFlowSamples) {
  start();
  flow_->sampleNow();
  for (int i = 0; i < 4; ++i) send({{"stream", "flow-" + std::to_string(i)}});
  ASSERT_TRUE(eventually([&] {  // each Count handled and its Counted projected
    for (int i = 0; i < 4; ++i) {
      const json c = json::parse(get("/t/count/flow-" + std::to_string(i)).body);
      if (c["n"] != 1 || c["log"].size() != 1) return false;
    }
    return true;
  }));
  now_ += 5000;
  flow_->sampleNow();
  const json flow = getJson("/admin/flow?minutes=1");
  EXPECT_EQ(flow["intervalSeconds"], 5);
  ASSERT_EQ(flow["times"].size(), 1u);
  bool seen = false;
  for (const auto& h : flow["handlers"]) {
    if (h["handler"] == "testkit/Count" && h["type"] == "Count") {
      seen = true;
      EXPECT_DOUBLE_EQ(h["handled"][0].get<double>(), 0.8);  // 4 in 5 s
      EXPECT_EQ(h["totals"]["handled"], 4);
      EXPECT_EQ(h["failed"][0], 0);
    }
  }
  EXPECT_TRUE(seen) << flow.dump();
  bool latency = false;
  for (const auto& l : flow["latency"])
    latency = latency || (l["handler"] == "testkit/Count" && l["p50"][0].is_number());
  EXPECT_TRUE(latency) << flow["latency"].dump();
  bool route = false;
  for (const auto& h : flow["http"])
    route = route || (h["route"] == "/t/count" && h["byClass"]["2xx"][0].get<double>() > 0);
  EXPECT_TRUE(route) << flow["http"].dump();
  EXPECT_EQ(get("/admin/flow?minutes=16").status, 400);

  const json o = getJson("/admin/overview");
  EXPECT_EQ(o["service"], "admin-test");
  EXPECT_EQ(o["ready"], true);
  EXPECT_EQ(o["readiness"]["checks"]["store"], "ok");
  EXPECT_EQ(o["deadLetters"], 0);
  EXPECT_EQ(o["flow"]["totals"]["handled"], 8);  // 4 Count + 4 Counted
  const json p = getJson("/admin/plugins");
  ASSERT_EQ(p["plugins"].size(), 1u);
  const json& testkit = p["plugins"][0];
  EXPECT_EQ(testkit["name"], "testkit");
  EXPECT_EQ(testkit["sha256"].get<std::string>().size(), 64u);
  EXPECT_FALSE(testkit["routes"].empty());
  ASSERT_FALSE(testkit["migrations"].empty());
  EXPECT_TRUE(testkit["migrations"][0]["appliedAt"].is_string());
  EXPECT_EQ(p["frameworkMigrations"].size(),
            plexus::store::frameworkMigrations(db_->dialect()).size());
}

TEST_F(Admin, ConsoleFilesAreServedWithTheirTypesAndValidators) {
  start();
  HttpResult r = get("/admin/console");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.headers["Location"], "/admin/console/");
  r = get("/admin/console/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["Content-Type"], "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("console.js"), std::string::npos);
  EXPECT_NE(r.headers["Content-Security-Policy"].find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(r.headers["Cache-Control"], "no-cache");
  EXPECT_EQ(get("/admin/console/", {{"If-None-Match", r.headers["ETag"]}}).status, 304);
  EXPECT_EQ(get("/admin/console/console.css").headers["Content-Type"], "text/css; charset=utf-8");
  EXPECT_EQ(get("/admin/console/nope.js").status, 404);
  EXPECT_EQ(http(port_, "POST", "/admin/console/").status, 405);
}

// A peer host (its own process, auth on for /admin), a port nobody listens on and a listener that
// never answers.
TEST_F(Admin, PeersAreProxiedWithTheCallersTokenAndFailAlone) {
  plexus::test::TempDir peerDir;
  const std::string peerConfig =
      peerDir.write("peer.json", json{{"service", "peer-echo"},
                                      {"http",
                                       {{"host", "127.0.0.1"},
                                        {"port", 0},
                                        {"auth",
                                         {{"enabled", true},
                                          {"groups",
                                           {{{"prefix", "/admin"},
                                             {"issuer", "https://login.test/"},
                                             {"audience", "plexus"},
                                             {"algorithms", {"HS256"}},
                                             {"hs256_secret", kSecret}}}}}}}},
                                      {"plugins", {{{"library", plexus::test::plugin("echo")}}}}}
                                     .dump());
  plexus::test::HostProcess peer(peerConfig);
  Poco::Net::ServerSocket hangs(Poco::Net::SocketAddress("127.0.0.1", 0), 16);
  Poco::Net::ServerSocket closed(Poco::Net::SocketAddress("127.0.0.1", 0));
  const int deadPort = closed.address().port();
  closed.close();
  start(R"(, "console": {"peer_timeout_ms": 500, "peers": [
      {"name": "peer-echo", "url": "http://127.0.0.1:)" +
        std::to_string(peer.port()) + R"("},
      {"name": "gone", "url": "http://127.0.0.1:)" +
        std::to_string(deadPort) + R"("},
      {"name": "hangs", "url": "http://127.0.0.1:)" +
        std::to_string(hangs.address().port()) + R"("}]})");
  const json peers = getJson("/admin/peers");
  ASSERT_EQ(peers["peers"].size(), 3u);
  EXPECT_EQ(peers["timeoutMs"], 500);

  // Without a token the peer refuses; the proxy says so as a gateway error, not as a 401 of ours.
  HttpResult r = get("/admin/peers/0/overview");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(json::parse(r.body)["unauthorized"], true);
  const std::string token = plexus::test::jwt::signHs256(
      {{"iss", "https://login.test/"}, {"aud", "plexus"}, {"exp", std::time(nullptr) + 600}},
      kSecret);
  r = get("/admin/peers/0/overview", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["service"], "peer-echo");
  EXPECT_EQ(r.headers["X-Plexus-Peer"], "peer-echo");

  r = get("/admin/peers/1/overview");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(json::parse(r.body)["unreachable"], true);
  const auto started = std::chrono::steady_clock::now();
  r = get("/admin/peers/2/overview");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(json::parse(r.body)["timeout"], true);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));  // generous

  EXPECT_EQ(get("/admin/peers/3/overview").status, 404);
  EXPECT_EQ(get("/admin/peers/0/metrics").status, 404);  // only the admin reads are proxied
  EXPECT_EQ(get("/admin/peers/x/overview").status, 404);
  EXPECT_EQ(http(port_, "POST", "/admin/peers/0/overview").status, 405);
}

TEST_F(Admin, WithAuthOnTheConsoleFilesLoadAndTheDataNeedsTheToken) {
  start(R"(, "console": {})");
  // A second server on the same runtime with auth on: what a protected host answers.
  auto cfg = plexus::config::parse(
      R"({"service": "admin-auth", "http": {"host": "127.0.0.1", "port": 0, "auth": {"enabled": true,
          "groups": [{"prefix": "/admin", "issuer": "i", "audience": "a", "algorithms": ["HS256"],
                      "hs256_secret": ")" +
          kSecret + R"("}]}}, "plugins": [{"library": ")" + plexus::test::testPlugin("testkit") +
          "\"}]}",
      "inline.json", [](const std::string&) { return std::nullopt; });
  plexus::http::Server guarded(cfg, *runtime_, metrics_);
  guarded.attach(db_.get(), bus_.get(), &migrated_);
  guarded.start();
  const int port = guarded.port();
  EXPECT_EQ(http(port, "GET", "/admin/console/").status, 200);
  EXPECT_EQ(http(port, "GET", "/admin/console/console.js").status, 200);
  EXPECT_EQ(http(port, "GET", "/admin/console").status, 301);
  for (const char* path :
       {"/admin/overview", "/admin/dead-letters", "/admin/flow", "/admin/plugins", "/admin/peers",
        "/admin/streams/x", "/admin/console/x/../../overview", "/admin/console/%2e%2e/overview",
        "/admin/consolex"}) {
    const HttpResult r = http(port, "GET", path);
    EXPECT_EQ(r.status, 401) << path << " " << r.body;
  }
  const std::string token = plexus::test::jwt::signHs256(
      {{"iss", "i"}, {"aud", "a"}, {"exp", std::time(nullptr) + 600}}, kSecret);
  EXPECT_EQ(http(port, "GET", "/admin/overview", "", {{"Authorization", "Bearer " + token}}).status,
            200);
  guarded.shutdown();
}

}  // namespace
