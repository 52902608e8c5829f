// [sqlite]
#include <plexus/testing/sqlite_host.hpp>

#include <gtest/gtest.h>

using plexus::testing::SqliteTestHost;

TEST(AcmeGreeter, APostedGreetingIsAnsweredAnnouncedAndProjected) {
  SqliteTestHost host(PLEXUS_PLUGIN_PATH, R"({"greeting": "howdy"})");
  host.validateWith(std::string(PLEXUS_SCHEMA_DIRS));  // every message sent must fit its schema
  auto r = host.request("POST", "/acme/greetings", R"({"name": "ada"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["greeting"], "howdy, ada");
  ASSERT_EQ(host.events().size(), 1u);
  EXPECT_EQ(host.events()[0].type, "Greeted");

  host.drain();  // delivers Greeted to the plugin's own perspective
  EXPECT_EQ(host.query("SELECT name FROM acme_greeted")[0][0].asText(), "ada");
  EXPECT_EQ(host.request("GET", "/acme/greetings/ada?times=2").json()["seen"], 1);
  EXPECT_EQ(host.request("GET", "/acme/greetings/ada?times=9").status, 400);
}

TEST(AcmeGreeter, AMalformedBodyIs400InTheRequestsTerms) {
  SqliteTestHost host(PLEXUS_PLUGIN_PATH);
  auto r = host.request("POST", "/acme/greetings", R"({"name": )");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "request body ends before its JSON is complete (9 bytes)");
  EXPECT_TRUE(host.emitted().empty());
}
// [/sqlite]
