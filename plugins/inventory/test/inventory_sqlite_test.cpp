// The inventory plugin's behaviour on the SQLite test host: the real .so, its migration, its real
// SQL (the conditional UPDATE that keeps the last units for one order, the outcome table that makes
// redelivery safe), its routes, and every message it sends checked against its schema. These
// replaced a hand-written model of the tables that answered each statement by its text.
#include <plexus/testing/sqlite_host.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using Json = nlohmann::json;
using plexus::Status;
using plexus::testing::SqliteTestHost;

constexpr const char* kOrder = "0198c0de-0000-7000-8000-000000000001";
constexpr const char* kOrder2 = "0198c0de-0000-7000-8000-000000000002";
constexpr int64_t kNow = 1767225600000;  // the test host's clock: 2026-01-01T00:00:00Z

class Inventory : public ::testing::Test {
 protected:
  explicit Inventory(const std::string& config = "{}") : host(PLEXUS_PLUGIN_PATH, config) {
    host.validateWith(std::string(PLEXUS_SCHEMA_DIRS));
  }
  // Stock through the real route (PUT /api/inventory/{id} -> RestockInventory).
  void stock(const std::string& id, int64_t n) {
    auto r = host.request("PUT", "/api/inventory/" + id, Json{{"availableStock", n}}.dump());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
  }
  std::pair<int64_t, int64_t> product(const std::string& id) {
    auto rows = host.query(
        "SELECT available_stock, reserved_stock FROM inventory_products WHERE product_id = $1",
        {id});
    return rows.empty() ? std::make_pair(int64_t{-1}, int64_t{-1})
                        : std::make_pair(rows[0][0].asInt(), rows[0][1].asInt());
  }
  std::string reservation(const std::string& order, const std::string& id) {
    auto rows = host.query(
        "SELECT status FROM inventory_reservations WHERE order_id = $1 AND product_id = $2",
        {order, id});
    return rows.empty() ? "" : rows[0][0].asText();
  }
  plexus::testing::Handled send(const std::string& type, const Json& payload,
                                const std::string& stream = kOrder) {
    auto out = host.deliver(type, payload, stream);
    EXPECT_EQ(out.size(), 1u) << type;
    return out.empty() ? plexus::testing::Handled{} : out[0];
  }
  plexus::testing::Handled reserve(const std::string& order, const Json& items) {
    return send("ReserveInventory", Json{{"orderId", order}, {"items", items}}, order);
  }
  static Json twoLines() {
    return Json::array(
        {{{"productId", "sku-a"}, {"quantity", 2}}, {{"productId", "sku-b"}, {"quantity", 1}}});
  }
  std::vector<plexus::testing::Sent> events() { return host.events(); }
  SqliteTestHost host;
};

TEST_F(Inventory, ReservesEveryLineAndEmitsOneEvent) {
  stock("sku-a", 10);
  stock("sku-b", 1);
  auto out = reserve(kOrder, twoLines());
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(events().size(), 1u);
  const auto e = events()[0];
  EXPECT_EQ(e.type, "InventoryReserved");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload["reservedAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(e.payload["items"],
            Json::parse(R"([{"productId":"sku-a","quantity":2,"remainingStock":8},
                            {"productId":"sku-b","quantity":1,"remainingStock":0}])"));
  EXPECT_EQ(product("sku-a"), std::make_pair(int64_t{8}, int64_t{2}));
  EXPECT_EQ(product("sku-b"), std::make_pair(int64_t{0}, int64_t{1}));
  EXPECT_EQ(reservation(kOrder, "sku-a"), "Reserved");
  const auto expiry = host.commands();
  ASSERT_EQ(expiry.size(), 1u);
  EXPECT_EQ(expiry[0].type, "ExpireReservation");
  EXPECT_EQ(expiry[0].payload, (Json{{"orderId", kOrder}}));
  EXPECT_EQ(expiry[0].deliverAtMs, kNow + 900 * 1000);
  EXPECT_EQ(host.metric("inventory_reservations_total", {"reserved"}), 1.0);
}

TEST_F(Inventory, TheLastUnitsGoToOneOrderOnly) {
  stock("sku-a", 3);
  ASSERT_EQ(reserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 3}}})).status,
            Status::Ok);
  ASSERT_EQ(reserve(kOrder2, Json::array({{{"productId", "sku-a"}, {"quantity", 3}}})).status,
            Status::Ok);
  ASSERT_EQ(events().size(), 2u);
  EXPECT_EQ(events()[0].type, "InventoryReserved");
  EXPECT_EQ(events()[1].type, "InventoryInsufficient");
  EXPECT_EQ(events()[1].payload["availableStock"], 0);
  EXPECT_EQ(product("sku-a"), std::make_pair(int64_t{0}, int64_t{3}));
}

TEST_F(Inventory, AnInsufficientLineUndoesTheLinesAlreadyReserved) {
  stock("sku-a", 10);
  stock("sku-b", 0);
  ASSERT_EQ(reserve(kOrder, twoLines()).status, Status::Ok);
  ASSERT_EQ(events().size(), 1u);
  EXPECT_EQ(events()[0].payload, (Json{{"orderId", kOrder},
                                       {"productId", "sku-b"},
                                       {"requestedQuantity", 1},
                                       {"availableStock", 0},
                                       {"checkedAt", "2026-01-01T00:00:00.000Z"}}));
  EXPECT_EQ(product("sku-a"), std::make_pair(int64_t{10}, int64_t{0}));
  EXPECT_EQ(reservation(kOrder, "sku-a"), "");
  EXPECT_TRUE(host.commands().empty());
  EXPECT_EQ(host.metric("inventory_reservations_total", {"insufficient"}), 1.0);
}

TEST_F(Inventory, AnUnknownProductIsInsufficientWithStockZero) {
  stock("sku-a", 10);
  reserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 1}},
                               {{"productId", "nope"}, {"quantity", 4}}}));
  ASSERT_EQ(events().size(), 1u);
  EXPECT_EQ(events()[0].payload["productId"], "nope");
  EXPECT_EQ(events()[0].payload["requestedQuantity"], 4);
  EXPECT_EQ(events()[0].payload["availableStock"], 0);
  EXPECT_EQ(product("sku-a").first, 10);
}

TEST_F(Inventory, RedeliveryReEmitsTheSameOutcomeAndNeverReservesTwice) {
  stock("sku-a", 10);
  stock("sku-b", 5);
  reserve(kOrder, twoLines());
  host.advanceMs(5000);
  reserve(kOrder, twoLines());  // a redelivery, or a second command for the same order
  ASSERT_EQ(events().size(), 2u);
  EXPECT_EQ(events()[1].payload, events()[0].payload);
  EXPECT_EQ(product("sku-a"), std::make_pair(int64_t{8}, int64_t{2}));
  EXPECT_EQ(host.commands().size(), 1u);
  EXPECT_EQ(host.metric("inventory_reservations_total", {"reserved"}), 1.0);
  // Insufficient stays insufficient, even after a restock.
  reserve(kOrder2, Json::array({{{"productId", "sku-a"}, {"quantity", 20}}}));
  stock("sku-a", 50);
  reserve(kOrder2, Json::array({{{"productId", "sku-a"}, {"quantity", 20}}}));
  ASSERT_EQ(events().size(), 4u);
  EXPECT_EQ(events()[3].type, "InventoryInsufficient");
  EXPECT_EQ(events()[3].payload, events()[2].payload);
}

TEST_F(Inventory, MalformedCommandsAreRejectedWithoutEffects) {
  stock("sku-a", 10);
  EXPECT_EQ(reserve(kOrder, Json::array()).status, Status::Reject);
  EXPECT_EQ(reserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 0}}})).status,
            Status::Reject);
  EXPECT_EQ(send("ReleaseInventory", Json{{"reason", "x"}}).status, Status::Reject);
  EXPECT_EQ(send("ReleaseInventory", Json{{"orderId", "a b"}}).status, Status::Reject);
  EXPECT_TRUE(host.emitted().empty());
  EXPECT_EQ(product("sku-a").first, 10);
}

TEST_F(Inventory, ReleaseReturnsStockOnceAndAlwaysAnswers) {
  stock("sku-a", 10);
  stock("sku-b", 5);
  reserve(kOrder, twoLines());
  host.clear();
  host.advanceMs(1000);
  const Json release{{"orderId", kOrder}, {"reason", "Payment failed"}};
  ASSERT_EQ(send("ReleaseInventory", release).status, Status::Ok);
  ASSERT_EQ(send("ReleaseInventory", release).status, Status::Ok);
  ASSERT_EQ(events().size(), 2u);
  EXPECT_EQ(events()[0].type, "InventoryReleased");
  EXPECT_EQ(events()[0].payload["releasedAt"], "2026-01-01T00:00:01.000Z");
  EXPECT_EQ(
      events()[0].payload["items"],
      Json::parse(R"([{"productId":"sku-a","quantity":2},{"productId":"sku-b","quantity":1}])"));
  EXPECT_EQ(events()[1].payload["items"], Json::array());
  EXPECT_EQ(product("sku-a"), std::make_pair(int64_t{10}, int64_t{0}));
  EXPECT_EQ(product("sku-b"), std::make_pair(int64_t{5}, int64_t{0}));
  EXPECT_EQ(reservation(kOrder, "sku-a"), "Released");
  EXPECT_EQ(host.metric("inventory_reservations_total", {"released"}), 1.0);
}

TEST_F(Inventory, TheScheduledExpiryReleasesOnlyWhenDue) {
  stock("sku-a", 10);
  reserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 4}}}));
  host.drain();  // the InventoryReserved event has no handler here; ExpireReservation is not due
  EXPECT_EQ(product("sku-a").first, 6);
  host.advanceMs(900000);
  host.drain();  // now it is
  const auto all = events();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].type, "InventoryReleased");
  EXPECT_EQ(all[1].payload["reason"], "Reservation expired");
  EXPECT_EQ(product("sku-a"), std::make_pair(int64_t{10}, int64_t{0}));
  EXPECT_EQ(host.metric("inventory_reservations_total", {"expired"}), 1.0);
  send("ExpireReservation", Json{{"orderId", kOrder}});  // a second expiry is silent
  EXPECT_EQ(events().size(), 2u);
}

TEST_F(Inventory, ShipmentCreatedCommitsOnceAndNothingReturnsToStockAfter) {
  stock("sku-a", 10);
  stock("sku-b", 5);
  reserve(kOrder, twoLines());
  host.clear();
  const Json shipped{{"orderId", kOrder}, {"shipmentId", "s-1"}, {"trackingNumber", "T1"}};
  ASSERT_EQ(send("ShipmentCreated", shipped).status, Status::Ok);
  ASSERT_EQ(send("ShipmentCreated", shipped).status, Status::Ok);  // duplicate: no second commit
  EXPECT_EQ(product("sku-a"), std::make_pair(int64_t{8}, int64_t{0}));
  EXPECT_EQ(product("sku-b"), std::make_pair(int64_t{4}, int64_t{0}));
  EXPECT_EQ(reservation(kOrder, "sku-b"), "Committed");
  EXPECT_EQ(host.metric("inventory_reservations_total", {"committed"}), 1.0);
  send("ExpireReservation", Json{{"orderId", kOrder}});
  EXPECT_TRUE(events().empty());
  send("ReleaseInventory", Json{{"orderId", kOrder}, {"reason", "late"}});
  EXPECT_EQ(product("sku-a").first, 8);
  ASSERT_EQ(events().size(), 1u);
  EXPECT_EQ(events()[0].payload["items"], Json::array());
  EXPECT_EQ(send("ShipmentCreated", Json{{"shipmentId", "x"}}).status, Status::Reject);
}

TEST_F(Inventory, PutCreatesThenSetsAndGetReadsBack) {
  auto r = host.request("PUT", "/api/inventory/sku-a", R"({"availableStock": 25})");
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json(), (Json{{"productId", "sku-a"},
                            {"availableStock", 25},
                            {"reservedStock", 0},
                            {"updatedAt", "2026-01-01T00:00:00.000Z"}}));
  host.advanceMs(1500);
  r = host.request("PUT", "/api/inventory/sku-a", R"({"availableStock": 0})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["updatedAt"], "2026-01-01T00:00:01.500Z");
  EXPECT_FALSE(r.json().contains("created"));
  EXPECT_EQ(host.request("GET", "/api/inventory/sku-a").json()["availableStock"], 0);
  EXPECT_EQ(host.request("GET", "/api/inventory/missing").status, 404);
  EXPECT_EQ(host.request("GET", "/api/inventory/" + std::string(65, 'x')).status, 400);
  for (const char* body : {"", "{not json", "[]", "{}", R"({"availableStock": -1})",
                           R"({"availableStock": 1.5})", R"({"availableStock": "3"})"}) {
    r = host.request("PUT", "/api/inventory/sku-b", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(r.json().contains("error")) << body;
  }
  EXPECT_EQ(host.request("GET", "/api/inventory/sku-b").status, 404);
}

class InventoryShortExpiry : public Inventory {
 protected:
  InventoryShortExpiry() : Inventory(R"({"expiry_seconds": 60})") {}
};

TEST_F(InventoryShortExpiry, ExpirySecondsComesFromConfig) {
  stock("a", 5);
  reserve(kOrder, Json::array({{{"productId", "a"}, {"quantity", 1}}}));
  ASSERT_EQ(host.commands().size(), 1u);
  EXPECT_EQ(host.commands()[0].deliverAtMs, kNow + 60000);
}

}  // namespace
