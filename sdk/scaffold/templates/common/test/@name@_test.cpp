// @name@ on the SDK's SQLite test host: the real plugin file, its migration and SQL, the route end
// to end, and the event it emits checked against schemas/.
#include <plexus/testing/sqlite_host.hpp>

#include <gtest/gtest.h>

namespace {

using plexus::testing::SqliteTestHost;

TEST(@Name@, AnItemPostedIsStoredAndAnnounced) {
  SqliteTestHost host(PLEXUS_PLUGIN_PATH);
  host.validateWith(std::string(PLEXUS_SCHEMA_DIRS));
  auto r = host.request("POST", "/api/@name@/items", R"({"text": "first"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["item"]["text"], "first");
  ASSERT_EQ(host.events().size(), 1u);
  EXPECT_EQ(host.events()[0].type, "@Name@ItemAdded");
  EXPECT_EQ(host.query("SELECT count(*) FROM @name@_items")[0][0].asInt(), 1);
}

TEST(@Name@, AnItemThatIsNotAJsonObjectIs400AndStoresNothing) {
  SqliteTestHost host(PLEXUS_PLUGIN_PATH);
  auto r = host.request("POST", "/api/@name@/items", "[1, 2]");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(host.emitted().empty());
  EXPECT_EQ(host.query("SELECT count(*) FROM @name@_items")[0][0].asInt(), 0);
}

}  // namespace
