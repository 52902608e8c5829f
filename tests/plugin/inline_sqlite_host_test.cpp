// The SDK's SQLite test host (plexus/testing/sqlite_host.hpp) projects inline perspectives as the
// host does, so a plugin author's tests see what users will: the real inline_view plugin.
#include <plexus/testing/sqlite_host.hpp>

#include <gtest/gtest.h>

namespace {

using nlohmann::json;

TEST(SqliteTestHostInline, ProjectsInTheCallAndDrainDoesNotProjectAgain) {
  plexus::testing::SqliteTestHost host(PLEXUS_PLUGIN_PATH);
  ASSERT_EQ(host.request("POST", "/iv/things", R"({"id": "a", "note": "x", "then": "y"})").status,
            201);
  auto got = host.request("GET", "/iv/things/a");  // no drain(): written by the POST
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json(), json({{"log", "x,y"}, {"applied", 2}}));
  host.drain();  // the asynchronous counter gets ThingRecorded; the inline view nothing again
  EXPECT_EQ(host.query("SELECT COUNT(*) FROM iv_seen")[0][0].asInt(), 1);
  EXPECT_EQ(host.request("GET", "/iv/things/a").json()["applied"], 2);
}

TEST(SqliteTestHostInline, AFailingProjectionFailsTheEmitterAndKeepsNothing) {
  plexus::testing::SqliteTestHost host(PLEXUS_PLUGIN_PATH);
  auto r = host.request("POST", "/iv/things", R"({"id": "b", "note": "x", "fail": "retry"})");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("inline perspective inline_view/ThingView failed"), std::string::npos);
  r = host.request("POST", "/iv/emit", R"({"id": "c", "note": "x", "fail": "emit"})");
  EXPECT_EQ(r.status, 500) << r.body;
  const auto out = host.deliver("RecordThing", json{{"id", "d"}, {"fail", "reject"}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, plexus::Status::Reject);
  EXPECT_EQ(host.query("SELECT COUNT(*) FROM iv_things")[0][0].asInt(), 0);
  EXPECT_TRUE(host.emitted().empty());
}

}  // namespace
