// Inline perspectives (plugin guide, "Inline perspectives"): real plugins through the real loader,
// the real unit of work, HTTP over loopback and the in-process bus. The same cases run on SQLite
// (tier plugin) and, built with PLEXUS_TEST_POSTGRES, on PostgreSQL (tier integration).
//
// The bus is started only where a case needs it: before that nothing relays the outbox, so what
// the view shows right after a call was written by that call's own transaction.
#include "base/clock.hpp"
#include "config/config.hpp"
#include "dispatch/dispatcher.hpp"
#include "embedded.hpp"
#include "http/server.hpp"
#include "observability/metrics.hpp"
#include "plugin/loader.hpp"
#include "plugin/runtime.hpp"
#include "rebuild/rebuild.hpp"
#include "store/store.hpp"
#include "support.hpp"
#include "transport_api/transport.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

namespace {

using nlohmann::json;
using plexus::test::eventually;
using plexus::test::http;

const char* const kView = "inline_view/ThingView";

class Inline : public plexus::test::EmbeddedFixture {
 protected:
  void SetUp() override {
    cfg_ = plexus::config::parse(
        R"({"service": "inline-test", "http": {"host": "127.0.0.1", "port": 0},
            "store": )" +
            plexus::test::embeddedStoreJson(dir_, schema_, "inl") + R"(,
            "transport": {"kind": "inproc", "max_attempts": 2, "retry_initial_ms": 20,
                          "retry_max_ms": 50, "poll_interval_ms": 100},
            "plugins": [{"library": ")" +
            plexus::test::testPlugin("inline_view") + R"("}, {"library": ")" +
            plexus::test::testPlugin("test_abi_1_2_perspective") + R"("}]})",
        "inline.json", [](const std::string&) { return std::nullopt; });
    wire();
    server_->start();
    port_ = server_->port();
  }

  int64_t inboxOf(const std::string& handler) {
    return scalar("SELECT COUNT(*) FROM plexus_inbox WHERE handler = $1", {handler});
  }
  plexus::test::HttpResult post(const std::string& path, const json& body) {
    return http(port_, "POST", path, body.dump());
  }
  plexus::test::HttpResult view(const std::string& id) {
    return http(port_, "GET", "/iv/things/" + id);
  }
  // What a thing left behind: its row, its events (event store, outbox).
  void expectNothingOf(const std::string& id) {
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM iv_things WHERE id = $1", {id}), 0);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_events WHERE stream_id = $1", {id}), 0);
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_outbox WHERE stream_id = $1 AND type <> $2",
                     {id, std::string("RecordThing")}),
              0);
    EXPECT_EQ(view(id).status, 404);
  }
  double handled(const std::string& handler) {
    double sum = 0;
    for (const auto& r : metrics_.read({"plexus_messages_handled_total"})) {
      for (const auto& [k, v] : r.labels) {
        if (k == "handler" && v == handler) sum += r.value;
      }
    }
    return sum;
  }
};

TEST_F(Inline, OnlyTheInlineRegistrationIsInlineAndAnAbi12DescriptorStaysAsync) {
  std::map<std::string, bool> inlineOf;
  for (const auto* c : runtime_->components()) inlineOf[c->id] = c->projectsInline;
  EXPECT_TRUE(inlineOf.at(kView));
  EXPECT_FALSE(inlineOf.at("inline_view/ThingCounter"));  // PLEXUS_REGISTER_PERSPECTIVE
  EXPECT_FALSE(inlineOf.at("old_view/OldView"));  // 1.2: the 1 beyond its struct_size is unread
}

TEST_F(Inline, ARouteReadsItsOwnWritesInEmissionOrderWithoutARelayPass) {
  ASSERT_EQ(post("/iv/things", {{"id", "a"}, {"note", "first"}, {"then", "second"}}).status, 201);
  const auto got = view("a");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json::parse(got.body), json({{"log", "first,second"}, {"applied", 2}}));
  // Nothing was relayed: both events wait in the outbox, and only the inline view has seen them.
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_outbox WHERE stream_id = 'a'"), 2);
  EXPECT_EQ(inboxOf(kView), 2);
  EXPECT_EQ(inboxOf("inline_view/ThingCounter"), 0);
  EXPECT_EQ(inboxOf("old_view/OldView"), 0);
  EXPECT_EQ(handled(kView), 2);
  // A route's own emit is projected too.
  ASSERT_EQ(post("/iv/emit", {{"id", "b"}, {"note", "direct"}}).status, 201);
  EXPECT_EQ(json::parse(view("b").body)["log"], "direct");
}

TEST_F(Inline, TheEventComingBackThroughTheBusIsNotProjectedAgain) {
  ASSERT_EQ(post("/iv/things", {{"id", "c"}, {"note", "once"}}).status, 201);
  bus_->start();
  // The relay hands the event to this host's handlers: the asynchronous ones take it...
  ASSERT_TRUE(eventually([&] {
    return inboxOf("old_view/OldView") == 1 &&
           scalar("SELECT COUNT(*) FROM iv_seen WHERE thing = 'c'") == 1 &&
           scalar("SELECT COUNT(*) FROM plexus_outbox") == 0;
  }));
  // ...the inline one skips it, and so it does a copy from another replica or the broker.
  const plexus::Rows rows = [&] {
    auto tx = db_->begin();
    auto r = tx->query(
        "SELECT message_id, payload FROM plexus_events WHERE stream_id = 'c' AND type = "
        "'ThingRecorded'",
        {});
    tx->commit();
    return r;
  }();
  ASSERT_EQ(rows.size(), 1u);
  std::vector<plexus::transport::Received> again(1);
  plexus::Message& m = again[0].message;
  m.id = rows[0][0].asText();
  m.kind = "event";
  m.type = "ThingRecorded";
  m.stream = "c";
  m.source = "inline-test";
  m.payload = rows[0][1].asText();
  bus_->inbound().accept(again);
  EXPECT_EQ(json::parse(view("c").body), json({{"log", "once"}, {"applied", 1}}));
  EXPECT_EQ(inboxOf(kView), 1);
  EXPECT_EQ(handled(kView), 1);
}

TEST_F(Inline, AFailingInlinePerspectiveFailsTheRouteAndLeavesNothing) {
  const std::map<std::string, int> statusOf{
      {"reject", 500}, {"retry", 503}, {"throw", 500}, {"emit", 500}};
  for (const auto& [mode, status] : statusOf) {
    const std::string id = "fail-" + mode;
    const auto r = post("/iv/things", {{"id", id}, {"note", "x"}, {"fail", mode}});
    EXPECT_EQ(r.status, status) << mode << ": " << r.body;
    EXPECT_NE(r.body.find("inline perspective inline_view/ThingView failed on ThingRecorded"),
              std::string::npos)
        << r.body;
    expectNothingOf(id);
  }
  // The route's own emit: the host answers for it, without the reason.
  const auto r = post("/iv/emit", {{"id", "fail-direct"}, {"note", "x"}, {"fail", "reject"}});
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(json::parse(r.body), json({{"error", "internal error"}}));
  expectNothingOf("fail-direct");
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM plexus_outbox"), 0);
  EXPECT_EQ(handled(kView), 0);
}

TEST_F(Inline, AMessageHandlerProjectsInItsTransactionAndItsFailureIsDeadLettered) {
  bus_->start();
  ASSERT_EQ(post("/iv/send", {{"id", "s1"}, {"note", "sent"}}).status, 202);
  ASSERT_EQ(post("/iv/send", {{"id", "s2"}, {"note", "sent"}, {"fail", "reject"}}).status, 202);
  ASSERT_TRUE(eventually([&] { return view("s1").status == 200; }));
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM iv_things WHERE id = 's1'"), 1);
  EXPECT_EQ(json::parse(view("s1").body)["applied"], 1);
  // The receptor's REJECT-by-its-view is its own: dead-lettered with the reason, nothing kept.
  ASSERT_TRUE(eventually([&] {
    return scalar("SELECT COUNT(*) FROM plexus_dead_letters WHERE type = 'RecordThing'") == 1;
  }));
  const std::string reason = [&] {
    auto tx = db_->begin();
    const auto r =
        tx->query("SELECT reason FROM plexus_dead_letters WHERE type = 'RecordThing'", {});
    tx->commit();
    return r[0][0].asText();
  }();
  EXPECT_NE(reason.find("inline perspective inline_view/ThingView failed"), std::string::npos)
      << reason;
  expectNothingOf("s2");
  ASSERT_TRUE(eventually([&] { return scalar("SELECT COUNT(*) FROM plexus_outbox") == 0; }));
  EXPECT_EQ(json::parse(view("s1").body)["applied"], 1);  // the relayed copy was skipped
}

TEST_F(Inline, ARebuildOfTheInlinePerspectiveReplaysItsEventsAndItProjectsInlineAfter) {
  ASSERT_EQ(post("/iv/things", {{"id", "r1"}, {"note", "one"}, {"then", "two"}}).status, 201);
  ASSERT_EQ(post("/iv/emit", {{"id", "r2"}, {"note", "three"}}).status, 201);
  {  // the serving model drifts; the rebuild must bring back what the events say
    auto tx = db_->begin();
    tx->exec("UPDATE iv_view SET log = 'stale', applied = 99", {});
    tx->commit();
  }
  plexus::rebuild::Target target{runtime_->plugins()[0], cfg_.plugins[0], "ThingView", {}};
  plexus::rebuild::Rebuild rebuild(cfg_, *db_, metrics_, plexus::systemClock(), target, "test",
                                   true);
  rebuild.begin();
  const plexus::rebuild::Record done = rebuild.run();
  EXPECT_EQ(done.state, "switched");
  EXPECT_EQ(done.events, 3);
  EXPECT_EQ(done.tables, std::vector<std::string>{"iv_view"});
  EXPECT_EQ(json::parse(view("r1").body), json({{"log", "one,two"}, {"applied", 2}}));
  EXPECT_EQ(json::parse(view("r2").body), json({{"log", "three"}, {"applied", 1}}));
  // The switched-in model is the one inline projections write to from now on.
  ASSERT_EQ(post("/iv/things", {{"id", "r3"}, {"note", "after"}}).status, 201);
  EXPECT_EQ(json::parse(view("r3").body), json({{"log", "after"}, {"applied", 1}}));
}

TEST(InlineDescriptor, AnUnknownProjectionIsRefusedNamingIt) {
  static const char* const types[] = {"E"};
  plexus_perspective_desc p{};
  p.struct_size = sizeof p;
  p.name = "Odd";
  p.event_types = types;
  p.event_type_count = 1;
  p.create = [](const plexus_host_api*, plexus_host*) -> void* { return nullptr; };
  p.handle = [](void*, plexus_call*, const plexus_message*) -> plexus_status { return PLEXUS_OK; };
  p.destroy = [](void*) {};
  p.projection = 7;
  const plexus_perspective_desc* const ps[] = {&p};
  plexus_plugin_desc d{};
  d.struct_size = sizeof d;
  d.abi_major = PLEXUS_ABI_MAJOR;
  d.abi_minor = PLEXUS_ABI_MINOR;
  d.name = "odd";
  d.version = "1";
  d.perspectives = ps;
  d.perspective_count = 1;
  try {
    plexus::plugin::validateDescriptor("/plugins/odd.so", &d);
    FAIL() << "accepted";
  } catch (const plexus::plugin::PluginError& e) {
    EXPECT_NE(std::string(e.what()).find("perspective \"Odd\" has the unknown projection 7"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
