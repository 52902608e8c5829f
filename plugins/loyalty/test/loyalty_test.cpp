// The Rust loyalty plugin on the SQLite test host: its migration and SQL (RETURNING, upserts), its
// route, redelivery, and its event checked against the catalogue.
#include <plexus/testing/sqlite_host.hpp>

#include <gtest/gtest.h>

namespace {

using Json = nlohmann::json;
using plexus::Status;
using plexus::testing::SqliteTestHost;

Json order(const std::string& id, const std::string& customer, double total) {
  return Json{{"orderId", id}, {"customerId", customer}, {"totalAmount", total}};
}

class Loyalty : public ::testing::Test {
 protected:
  Loyalty() : host_(PLEXUS_PLUGIN_PATH) { host_.validateWith(std::string(PLEXUS_SCHEMA_DIRS)); }
  SqliteTestHost host_;
};

TEST_F(Loyalty, OrdersEarnOnePointPerWholeUnitOnce) {
  auto out = host_.deliver("OrderCreated", order("o-1", "cust-1", 89.97), "o-1");
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].status, Status::Ok) << out[0].detail;
  EXPECT_EQ(out[0].component, "loyalty/AwardPoints");
  host_.deliver("OrderCreated", order("o-2", "cust-1", 10), "o-2");
  host_.deliver("OrderCreated", order("o-1", "cust-1", 89.97), "o-1");  // redelivered: nothing
  EXPECT_EQ(host_.request("GET", "/api/loyalty/cust-1").json(),
            (Json{{"customerId", "cust-1"}, {"points", 99}}));
  ASSERT_EQ(host_.events().size(), 2u);
  EXPECT_EQ(host_.events()[1].type, "LoyaltyPointsAwarded");
  EXPECT_EQ(host_.events()[1].stream, "cust-1");
  EXPECT_EQ(host_.events()[1].payload["balance"], 99);
}

TEST_F(Loyalty, AnUnknownCustomerHasNoPoints) {
  auto r = host_.request("GET", "/api/loyalty/nobody");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["points"], 0);
}

TEST_F(Loyalty, ABadEventIsRejectedWithTheReasonAndChangesNothing) {
  auto out = host_.deliver("OrderCreated", Json{{"orderId", "o-9"}, {"totalAmount", 5}}, "o-9");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, Status::Reject);
  EXPECT_EQ(out[0].detail, "OrderCreated: customerId must be a string");
  EXPECT_TRUE(host_.emitted().empty());
  EXPECT_EQ(host_.query("SELECT count(*) FROM loyalty_awards")[0][0].asInt(), 0);
}

}  // namespace
