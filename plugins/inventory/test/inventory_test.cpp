#include "inventory.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <string>

using plexus::Json;
using plexus::Status;
using plexus::testing::FakeHost;
using plexus::testing::TestRequest;

namespace {
constexpr const char* kOrder = "0198c0de-0000-7000-8000-000000000001";
constexpr int64_t kNow = 1767225600000;  // FakeHost's clock: 2026-01-01T00:00:00Z
}  // namespace

// ---- pure helpers ----

TEST(Helpers, ValidIdAcceptsTheOpaqueAlphabetOnly) {
  EXPECT_TRUE(inventory::validId("sku-1.A_b"));
  EXPECT_TRUE(inventory::validId(std::string(64, 'x')));
  EXPECT_FALSE(inventory::validId(std::string(65, 'x')));
  EXPECT_FALSE(inventory::validId(""));
  EXPECT_FALSE(inventory::validId("a b"));
  EXPECT_FALSE(inventory::validId("a/b"));
  EXPECT_FALSE(inventory::validId("é"));
}

TEST(Helpers, FormatsRfc3339Utc) {
  EXPECT_EQ(plexus::rfc3339::format(kNow), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(plexus::rfc3339::format(kNow + 86400000 + 3723004), "2026-01-02T01:02:03.004Z");
  EXPECT_EQ(plexus::rfc3339::format(0), "1970-01-01T00:00:00.000Z");
}

TEST(Helpers, IntInAcceptsOnlyIntegersInRange) {
  EXPECT_EQ(inventory::intIn(Json(5), 0, 10), 5);
  EXPECT_EQ(inventory::intIn(Json(0), 0, 10), 0);
  EXPECT_FALSE(inventory::intIn(Json(-1), 0, 10));
  EXPECT_FALSE(inventory::intIn(Json(11), 0, 10));
  EXPECT_FALSE(inventory::intIn(Json(5.0), 0, 10));
  EXPECT_FALSE(inventory::intIn(Json("5"), 0, 10));
  EXPECT_FALSE(inventory::intIn(Json(true), 0, 10));
  EXPECT_FALSE(inventory::intIn(Json(18446744073709551615ULL), 0, 10));
}

TEST(Helpers, ParseReserveMergesDuplicateLines) {
  auto r = inventory::parseReserve(Json{{"orderId", kOrder},
                                        {"items",
                                         {{{"productId", "b"}, {"quantity", 1}},
                                          {{"productId", "a"}, {"quantity", 2}},
                                          {{"productId", "b"}, {"quantity", 3}}}}});
  EXPECT_EQ(r.orderId, kOrder);
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].productId, "b");
  EXPECT_EQ(r.items[0].quantity, 4);
  EXPECT_EQ(r.items[1].quantity, 2);
}

TEST(Helpers, ParseReserveRejectsBadInput) {
  const Json good = {{"productId", "a"}, {"quantity", 1}};
  const std::vector<Json> bad = {
      Json::array(),
      Json{{"items", {good}}},
      Json{{"orderId", 5}, {"items", {good}}},
      Json{{"orderId", "has space"}, {"items", {good}}},
      Json{{"orderId", kOrder}},
      Json{{"orderId", kOrder}, {"items", Json::array()}},
      Json{{"orderId", kOrder}, {"items", good}},
      Json{{"orderId", kOrder}, {"items", {5}}},
      Json{{"orderId", kOrder}, {"items", {{{"quantity", 1}}}}},
      Json{{"orderId", kOrder},
           {"items", {{{"productId", std::string(65, 'p')}, {"quantity", 1}}}}},
      Json{{"orderId", kOrder}, {"items", {{{"productId", "a"}}}}},
      Json{{"orderId", kOrder}, {"items", {{{"productId", "a"}, {"quantity", 0}}}}},
      Json{{"orderId", kOrder}, {"items", {{{"productId", "a"}, {"quantity", -2}}}}},
      Json{{"orderId", kOrder}, {"items", {{{"productId", "a"}, {"quantity", 1.5}}}}},
      Json{{"orderId", kOrder}, {"items", {{{"productId", "a"}, {"quantity", "1"}}}}},
  };
  for (const Json& b : bad) {
    EXPECT_THROW(inventory::parseReserve(b), plexus::BadRequest) << b.dump();
  }
}

TEST(Helpers, ParseRestockNeedsExactlyOneQuantity) {
  auto set = inventory::parseRestock(Json{{"productId", "a"}, {"availableStock", 0}});
  EXPECT_TRUE(set.absolute);
  EXPECT_EQ(set.quantity, 0);
  auto add = inventory::parseRestock(Json{{"productId", "a"}, {"quantityToAdd", 7}});
  EXPECT_FALSE(add.absolute);
  EXPECT_EQ(add.quantity, 7);
  EXPECT_THROW(inventory::parseRestock(Json{{"productId", "a"}}), plexus::BadRequest);
  EXPECT_THROW(inventory::parseRestock(
                   Json{{"productId", "a"}, {"availableStock", 1}, {"quantityToAdd", 1}}),
               plexus::BadRequest);
  EXPECT_THROW(inventory::parseRestock(Json{{"productId", "a"}, {"availableStock", -1}}),
               plexus::BadRequest);
  EXPECT_THROW(inventory::parseRestock(Json{{"productId", "a"}, {"quantityToAdd", 0}}),
               plexus::BadRequest);
  EXPECT_THROW(inventory::parseRestock(Json{{"availableStock", 1}}), plexus::BadRequest);
}

// The stateful behaviour (reservations, release, expiry, shipment, restock, the routes) runs on
// the SQLite test host with the real SQL: inventory_sqlite_test.cpp.

TEST(ReserveConfig, BadExpiryConfigRefusesToStart) {
  FakeHost host(R"({"expiry_seconds": "soon"})");
  EXPECT_THROW(host.create<inventory::ReserveInventory>(), std::runtime_error);
  FakeHost zero(R"({"expiry_seconds": 0})");
  EXPECT_THROW(zero.create<inventory::ReserveInventory>(), std::runtime_error);
}

// A receptor failure seen from the route, which the test host cannot provoke with real SQL.
TEST(PutInventory, MapsAReceptorRejectTo400AndRetryTo503) {
  FakeHost host;
  auto put = host.create<inventory::PutInventory>();
  TestRequest r;
  r.method = "PUT";
  r.path = "/api/inventory/sku-a";
  r.params = {{"productId", "sku-a"}};
  r.body = R"({"availableStock": 1})";
  host.onInvoke([](const std::string&, const Json&) {
    return plexus::testing::HandleOutcome{Status::Reject, "refused"};
  });
  auto out = host.request(*put, r);
  EXPECT_EQ(out.httpStatus, 400);
  EXPECT_EQ(out.json()["error"], "refused");
  host.onInvoke([](const std::string&, const Json&) {
    return plexus::testing::HandleOutcome{Status::Retry, "busy"};
  });
  EXPECT_EQ(host.request(*put, r).httpStatus, 503);
}
