#include "inventory.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

using plexus::Json;
using plexus::Status;
using plexus::Value;
using plexus::testing::FakeHost;
using plexus::testing::message;
using plexus::testing::SqlAnswer;
using plexus::testing::Statement;
using plexus::testing::TestRequest;

namespace {

constexpr const char* kOrder = "0198c0de-0000-7000-8000-000000000001";
constexpr const char* kOrder2 = "0198c0de-0000-7000-8000-000000000002";
constexpr int64_t kNow = 1767225600000;  // FakeHost's clock: 2026-01-01T00:00:00Z

// A tiny in-memory model of the inventory tables, answering exactly the plugin's statements.
struct Model {
  struct Product {
    int64_t available = 0, reserved = 0, updatedAt = 0;
  };
  struct Reservation {
    int64_t quantity = 0;
    std::string status;
    int64_t expiresAt = 0;
  };
  std::map<std::string, Product> products;
  std::map<std::pair<std::string, std::string>, Reservation> reservations;
  std::map<std::string, std::pair<std::string, std::string>> outcomes;

  SqlAnswer operator()(const Statement& st) {
    using namespace inventory::sql;
    const auto& p = st.params;
    SqlAnswer a;
    if (st.sql == kSelectOutcome) {
      auto it = outcomes.find(p.at(0).asText());
      if (it != outcomes.end())
        a.rows.push_back({Value(it->second.first), Value(it->second.second)});
    } else if (st.sql == kInsertOutcome) {
      a.affected =
          outcomes.emplace(p.at(0).asText(), std::make_pair(p.at(1).asText(), p.at(2).asText()))
              .second;
    } else if (st.sql == kReserveStock) {
      EXPECT_EQ(p.at(0), p.at(4));
      EXPECT_EQ(p.at(0), p.at(1));
      auto it = products.find(p.at(3).asText());
      if (it != products.end() && it->second.available >= p.at(4).asInt()) {
        it->second.available -= p.at(0).asInt();
        it->second.reserved += p.at(1).asInt();
        it->second.updatedAt = p.at(2).asInt();
        a.affected = 1;
      }
    } else if (st.sql == kReturnStock) {
      auto it = products.find(p.at(3).asText());
      if (it != products.end()) {
        it->second.available += p.at(0).asInt();
        it->second.reserved -= p.at(1).asInt();
        it->second.updatedAt = p.at(2).asInt();
        a.affected = 1;
      }
    } else if (st.sql == kCommitStock) {
      auto it = products.find(p.at(2).asText());
      if (it != products.end()) {
        it->second.reserved -= p.at(0).asInt();
        it->second.updatedAt = p.at(1).asInt();
        a.affected = 1;
      }
    } else if (st.sql == kSelectProduct) {
      auto it = products.find(p.at(0).asText());
      if (it != products.end()) {
        a.rows.push_back({Value(it->first), Value(static_cast<long long>(it->second.available)),
                          Value(static_cast<long long>(it->second.reserved)),
                          Value(static_cast<long long>(it->second.updatedAt))});
      }
    } else if (st.sql == kInsertReservation) {
      a.affected = reservations
                       .emplace(std::make_pair(p.at(0).asText(), p.at(1).asText()),
                                Reservation{p.at(2).asInt(), "Reserved", p.at(4).asInt()})
                       .second;
    } else if (st.sql == kSelectReservations) {
      for (const auto& [k, r] : reservations) {
        if (k.first == p.at(0).asText()) {
          a.rows.push_back(
              {Value(k.second), Value(static_cast<long long>(r.quantity)), Value(r.status)});
        }
      }
    } else if (st.sql == kLeaveReserved) {
      auto it = reservations.find({p.at(2).asText(), p.at(3).asText()});
      if (it != reservations.end() && it->second.status == "Reserved") {
        it->second.status = p.at(0).asText();
        a.affected = 1;
      }
    } else if (st.sql == kSetStock || st.sql == kAddStock) {
      auto [it, created] = products.emplace(p.at(0).asText(), Product{});
      if (created || st.sql == kSetStock) {
        it->second.available = p.at(1).asInt();
      } else {
        it->second.available += p.at(1).asInt();
      }
      it->second.updatedAt = p.at(2).asInt();
      a.affected = 1;
    } else {
      ADD_FAILURE() << "unexpected SQL: " << st.sql;
    }
    return a;
  }
};

struct Fixture : ::testing::Test {
  explicit Fixture(std::string config = "{}") : host(std::move(config)) {}
  void SetUp() override {
    host.onSql([this](const Statement& st) { return model(st); });
  }
  void stock(const std::string& id, int64_t n) { model.products[id] = Model::Product{n, 0, 1}; }
  Json reserve(std::string orderId, Json items) {
    return Json{{"orderId", orderId}, {"items", items}};
  }
  FakeHost host;
  Model model;
};

struct Reserve : Fixture {
  std::unique_ptr<plexus::testing::Instance<inventory::ReserveInventory>> r =
      host.create<inventory::ReserveInventory>();
  std::unique_ptr<plexus::testing::Instance<inventory::ReleaseInventory>> rel =
      host.create<inventory::ReleaseInventory>();
  std::unique_ptr<plexus::testing::Instance<inventory::CommitOnShipment>> ship =
      host.create<inventory::CommitOnShipment>();

  plexus::testing::HandleOutcome doReserve(const std::string& order, Json items) {
    return host.handle(*r, message("ReserveInventory", reserve(order, items), order));
  }
  Json twoLines() {
    return Json::array(
        {{{"productId", "sku-a"}, {"quantity", 2}}, {{"productId", "sku-b"}, {"quantity", 1}}});
  }
};

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

// ---- ReserveInventory ----

TEST_F(Reserve, ReservesEveryLineAndEmitsOneEvent) {
  stock("sku-a", 10);
  stock("sku-b", 1);
  auto out = doReserve(kOrder, twoLines());
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(host.emitted().size(), 1u);
  const auto& e = host.emitted()[0];
  EXPECT_EQ(e.type, "InventoryReserved");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload["orderId"], kOrder);
  EXPECT_EQ(e.payload["reservedAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(e.payload["items"],
            Json::parse(R"([{"productId":"sku-a","quantity":2,"remainingStock":8},
                                                 {"productId":"sku-b","quantity":1,"remainingStock":0}])"));
  EXPECT_EQ(model.products["sku-a"].available, 8);
  EXPECT_EQ(model.products["sku-a"].reserved, 2);
  EXPECT_EQ(model.products["sku-b"].available, 0);
  EXPECT_EQ(model.products["sku-b"].reserved, 1);
  EXPECT_EQ((model.reservations[{kOrder, "sku-a"}].status), "Reserved");
  EXPECT_EQ((model.reservations[{kOrder, "sku-a"}].expiresAt), kNow + 900000);
  ASSERT_EQ(host.scheduled().size(), 1u);
  EXPECT_EQ(host.scheduled()[0].type, "ExpireReservation");
  EXPECT_EQ(host.scheduled()[0].stream, kOrder);
  EXPECT_EQ(host.scheduled()[0].payload, (Json{{"orderId", kOrder}}));
  EXPECT_EQ(host.scheduled()[0].deliverAtMs, kNow + 900 * 1000);
  EXPECT_EQ(host.metric("inventory_reservations_total", {"reserved"}), 1.0);
}

TEST_F(Reserve, UsesConditionalUpdatesSoTheLastUnitsGoToOneOrderOnly) {
  stock("sku-a", 3);
  ASSERT_EQ(doReserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 3}}})).status,
            Status::Ok);
  ASSERT_EQ(doReserve(kOrder2, Json::array({{{"productId", "sku-a"}, {"quantity", 3}}})).status,
            Status::Ok);
  ASSERT_EQ(host.emitted().size(), 2u);
  EXPECT_EQ(host.emitted()[0].type, "InventoryReserved");
  EXPECT_EQ(host.emitted()[1].type, "InventoryInsufficient");
  EXPECT_EQ(host.emitted()[1].payload["availableStock"], 0);
  EXPECT_EQ(model.products["sku-a"].available, 0);
  EXPECT_EQ(model.products["sku-a"].reserved, 3);
  // The guard is in the UPDATE itself (atomic on both databases), not a read-then-write.
  bool guarded = false;
  for (const auto& st : host.statements()) {
    if (st.sql == inventory::sql::kReserveStock) guarded = true;
  }
  EXPECT_TRUE(guarded);
  EXPECT_NE(std::string(inventory::sql::kReserveStock).find("AND available_stock >= $5"),
            std::string::npos);
}

TEST_F(Reserve, InsufficientLineUndoesTheLinesAlreadyReserved) {
  stock("sku-a", 10);
  stock("sku-b", 0);
  auto out = doReserve(kOrder, twoLines());
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(host.emitted().size(), 1u);
  const auto& e = host.emitted()[0];
  EXPECT_EQ(e.type, "InventoryInsufficient");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload, (Json{{"orderId", kOrder},
                             {"productId", "sku-b"},
                             {"requestedQuantity", 1},
                             {"availableStock", 0},
                             {"checkedAt", "2026-01-01T00:00:00.000Z"}}));
  EXPECT_EQ(model.products["sku-a"].available, 10);
  EXPECT_EQ(model.products["sku-a"].reserved, 0);
  EXPECT_TRUE(model.reservations.empty());
  EXPECT_TRUE(host.scheduled().empty());
  EXPECT_EQ(host.metric("inventory_reservations_total", {"insufficient"}), 1.0);
}

TEST_F(Reserve, UnknownProductIsInsufficientWithStockZero) {
  stock("sku-a", 10);
  auto out = doReserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 1}},
                                            {{"productId", "nope"}, {"quantity", 4}}}));
  ASSERT_EQ(out.status, Status::Ok);
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].type, "InventoryInsufficient");
  EXPECT_EQ(host.emitted()[0].payload["productId"], "nope");
  EXPECT_EQ(host.emitted()[0].payload["requestedQuantity"], 4);
  EXPECT_EQ(host.emitted()[0].payload["availableStock"], 0);
  EXPECT_EQ(model.products["sku-a"].available, 10);
}

TEST_F(Reserve, ReportsTheAvailableStockOfTheShortLine) {
  stock("sku-a", 5);
  doReserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 6}}}));
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].payload["availableStock"], 5);
  EXPECT_EQ(host.emitted()[0].payload["requestedQuantity"], 6);
}

TEST_F(Reserve, RedeliveryReEmitsTheSameOutcomeAndNeverReservesTwice) {
  stock("sku-a", 10);
  stock("sku-b", 5);
  auto m = message("ReserveInventory", reserve(kOrder, twoLines()), kOrder);
  ASSERT_EQ(host.handle(*r, m).status, Status::Ok);
  host.advanceMs(5000);
  m.attempt = 2;
  ASSERT_EQ(host.handle(*r, m).status, Status::Ok);
  // A second command (new message id) for the same order is treated the same way.
  m.id = "00000000-0000-7000-8000-0000000000ff";
  ASSERT_EQ(host.handle(*r, m).status, Status::Ok);
  ASSERT_EQ(host.emitted().size(), 3u);
  EXPECT_EQ(host.emitted()[1].type, "InventoryReserved");
  EXPECT_EQ(host.emitted()[1].payload, host.emitted()[0].payload);
  EXPECT_EQ(host.emitted()[2].payload, host.emitted()[0].payload);
  EXPECT_EQ(model.products["sku-a"].available, 8);
  EXPECT_EQ(model.products["sku-a"].reserved, 2);
  EXPECT_EQ(host.scheduled().size(), 1u);
  EXPECT_EQ(host.metric("inventory_reservations_total", {"reserved"}), 1.0);
}

TEST_F(Reserve, InsufficientStaysInsufficientOnRedeliveryEvenAfterARestock) {
  stock("sku-a", 1);
  doReserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 2}}}));
  stock("sku-a", 50);
  doReserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 2}}}));
  ASSERT_EQ(host.emitted().size(), 2u);
  EXPECT_EQ(host.emitted()[1].type, "InventoryInsufficient");
  EXPECT_EQ(host.emitted()[1].payload, host.emitted()[0].payload);
  EXPECT_EQ(model.products["sku-a"].available, 50);
  EXPECT_TRUE(model.reservations.empty());
}

TEST_F(Reserve, RejectsMalformedCommandsWithoutEffects) {
  stock("sku-a", 10);
  EXPECT_EQ(doReserve(kOrder, Json::array()).status, Status::Reject);
  EXPECT_EQ(doReserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 0}}})).status,
            Status::Reject);
  auto raw = message("ReserveInventory", Json::object(), kOrder);
  raw.payload = "{not json";
  EXPECT_EQ(host.handle(*r, raw).status, Status::Reject);
  EXPECT_TRUE(host.emitted().empty());
  EXPECT_EQ(model.products["sku-a"].available, 10);
}

TEST(ReserveConfig, ExpirySecondsComesFromConfig) {
  FakeHost host(R"({"expiry_seconds": 60})");
  Model model;
  model.products["a"] = Model::Product{5, 0, 0};
  host.onSql([&](const Statement& st) { return model(st); });
  auto r = host.create<inventory::ReserveInventory>();
  ASSERT_EQ(host.handle(*r, message("ReserveInventory",
                                    Json{{"orderId", kOrder},
                                         {"items", {{{"productId", "a"}, {"quantity", 1}}}}},
                                    kOrder))
                .status,
            Status::Ok);
  ASSERT_EQ(host.scheduled().size(), 1u);
  EXPECT_EQ(host.scheduled()[0].deliverAtMs, kNow + 60000);
}

TEST(ReserveConfig, BadExpiryConfigRefusesToStart) {
  FakeHost host(R"({"expiry_seconds": "soon"})");
  EXPECT_THROW(host.create<inventory::ReserveInventory>(), std::runtime_error);
  FakeHost zero(R"({"expiry_seconds": 0})");
  EXPECT_THROW(zero.create<inventory::ReserveInventory>(), std::runtime_error);
}

// ---- ReleaseInventory / ExpireReservation / ShipmentCreated ----

TEST_F(Reserve, ReleaseReturnsStockAndEmitsInventoryReleased) {
  stock("sku-a", 10);
  stock("sku-b", 5);
  doReserve(kOrder, twoLines());
  host.clearOutgoing();
  host.advanceMs(1000);
  auto out = host.handle(
      *rel,
      message("ReleaseInventory", Json{{"orderId", kOrder}, {"reason", "Payment failed"}}, kOrder));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(host.emitted().size(), 1u);
  const auto& e = host.emitted()[0];
  EXPECT_EQ(e.type, "InventoryReleased");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload["orderId"], kOrder);
  EXPECT_EQ(e.payload["releasedAt"], "2026-01-01T00:00:01.000Z");
  EXPECT_EQ(
      e.payload["items"],
      Json::parse(R"([{"productId":"sku-a","quantity":2},{"productId":"sku-b","quantity":1}])"));
  EXPECT_EQ(model.products["sku-a"].available, 10);
  EXPECT_EQ(model.products["sku-a"].reserved, 0);
  EXPECT_EQ(model.products["sku-b"].available, 5);
  EXPECT_EQ((model.reservations[{kOrder, "sku-a"}].status), "Released");
  EXPECT_EQ(host.metric("inventory_reservations_total", {"released"}), 1.0);
}

TEST_F(Reserve, ReleasingTwiceReturnsStockOnceAndStillAnswers) {
  stock("sku-a", 10);
  doReserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 4}}}));
  host.clearOutgoing();
  auto m = message("ReleaseInventory", Json{{"orderId", kOrder}, {"reason", "x"}}, kOrder);
  host.handle(*rel, m);
  host.handle(*rel, m);
  EXPECT_EQ(model.products["sku-a"].available, 10);
  EXPECT_EQ(model.products["sku-a"].reserved, 0);
  ASSERT_EQ(host.emitted().size(), 2u);
  EXPECT_EQ(host.emitted()[1].payload["items"], Json::array());
  EXPECT_EQ(host.metric("inventory_reservations_total", {"released"}), 1.0);
}

TEST_F(Reserve, ReleaseWithNothingReservedAnswersWithNoItems) {
  auto out = host.handle(
      *rel, message("ReleaseInventory", Json{{"orderId", kOrder}, {"reason", "x"}}, kOrder));
  ASSERT_EQ(out.status, Status::Ok);
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].type, "InventoryReleased");
  EXPECT_EQ(host.emitted()[0].payload["items"], Json::array());
}

TEST_F(Reserve, ReleaseRejectsABadOrderId) {
  EXPECT_EQ(host.handle(*rel, message("ReleaseInventory", Json{{"reason", "x"}}, kOrder)).status,
            Status::Reject);
  EXPECT_EQ(host.handle(*rel, message("ReleaseInventory", Json{{"orderId", "a b"}}, kOrder)).status,
            Status::Reject);
  EXPECT_TRUE(host.emitted().empty());
}

TEST_F(Reserve, ExpiryReleasesReservedStock) {
  stock("sku-a", 10);
  doReserve(kOrder, Json::array({{{"productId", "sku-a"}, {"quantity", 4}}}));
  host.clearOutgoing();
  host.advanceMs(900000);
  auto out = host.handle(*rel, message("ExpireReservation", Json{{"orderId", kOrder}}, kOrder));
  ASSERT_EQ(out.status, Status::Ok);
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].type, "InventoryReleased");
  EXPECT_EQ(host.emitted()[0].payload["items"],
            Json::parse(R"([{"productId":"sku-a","quantity":4}])"));
  EXPECT_EQ(host.emitted()[0].payload["reason"], "Reservation expired");
  EXPECT_EQ(model.products["sku-a"].available, 10);
  EXPECT_EQ(host.metric("inventory_reservations_total", {"expired"}), 1.0);
  // A second expiry (or one after a release) is silent.
  host.handle(*rel, message("ExpireReservation", Json{{"orderId", kOrder}}, kOrder));
  EXPECT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(model.products["sku-a"].available, 10);
}

TEST_F(Reserve, ShipmentCreatedCommitsAndExpiryThenDoesNothing) {
  stock("sku-a", 10);
  stock("sku-b", 5);
  doReserve(kOrder, twoLines());
  host.clearOutgoing();
  const Json shipped{{"orderId", kOrder}, {"shipmentId", "s-1"}, {"trackingNumber", "T1"}};
  ASSERT_EQ(host.handle(*ship, message("ShipmentCreated", shipped, kOrder)).status, Status::Ok);
  EXPECT_EQ(model.products["sku-a"].available, 8);
  EXPECT_EQ(model.products["sku-a"].reserved, 0);
  EXPECT_EQ(model.products["sku-b"].available, 4);
  EXPECT_EQ(model.products["sku-b"].reserved, 0);
  EXPECT_EQ((model.reservations[{kOrder, "sku-b"}].status), "Committed");
  EXPECT_EQ(host.metric("inventory_reservations_total", {"committed"}), 1.0);
  // Duplicate event: no second commit.
  ASSERT_EQ(host.handle(*ship, message("ShipmentCreated", shipped, kOrder)).status, Status::Ok);
  EXPECT_EQ(model.products["sku-a"].reserved, 0);
  EXPECT_EQ(host.metric("inventory_reservations_total", {"committed"}), 1.0);
  // Expiry and release after commit: nothing returns to stock; expiry is silent.
  host.handle(*rel, message("ExpireReservation", Json{{"orderId", kOrder}}, kOrder));
  EXPECT_TRUE(host.emitted().empty());
  host.handle(*rel,
              message("ReleaseInventory", Json{{"orderId", kOrder}, {"reason", "late"}}, kOrder));
  EXPECT_EQ(model.products["sku-a"].available, 8);
  EXPECT_EQ(model.products["sku-b"].available, 4);
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].payload["items"], Json::array());
  EXPECT_TRUE(host.emitted()[0].payload.contains("releasedAt"));
}

TEST_F(Reserve, ShipmentCreatedWithoutReservationsIsANoOp) {
  ASSERT_EQ(
      host.handle(*ship, message("ShipmentCreated", Json{{"orderId", kOrder}}, kOrder)).status,
      Status::Ok);
  EXPECT_TRUE(host.emitted().empty());
  EXPECT_EQ(host.metric("inventory_reservations_total", {"committed"}), 0.0);
  EXPECT_EQ(
      host.handle(*ship, message("ShipmentCreated", Json{{"shipmentId", "x"}}, kOrder)).status,
      Status::Reject);
}

// ---- RestockInventory ----

TEST_F(Fixture, RestockSetsOrAddsAndReportsCreation) {
  auto rs = host.create<inventory::RestockInventory>();
  auto out = host.handle(
      *rs,
      message("RestockInventory", Json{{"productId", "sku-a"}, {"availableStock", 7}}, "sku-a"));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(Json::parse(out.detail), (Json{{"productId", "sku-a"},
                                           {"availableStock", 7},
                                           {"reservedStock", 0},
                                           {"updatedAt", "2026-01-01T00:00:00.000Z"},
                                           {"created", true}}));
  out = host.handle(*rs, message("RestockInventory",
                                 Json{{"productId", "sku-a"}, {"quantityToAdd", 5}}, "sku-a"));
  EXPECT_EQ(Json::parse(out.detail)["availableStock"], 12);
  EXPECT_EQ(Json::parse(out.detail)["created"], false);
  out = host.handle(*rs, message("RestockInventory",
                                 Json{{"productId", "sku-a"}, {"availableStock", 3}}, "sku-a"));
  EXPECT_EQ(Json::parse(out.detail)["availableStock"], 3);
  EXPECT_EQ(model.products["sku-a"].available, 3);
  out = host.handle(*rs, message("RestockInventory",
                                 Json{{"productId", "sku-n"}, {"quantityToAdd", 2}}, "sku-n"));
  EXPECT_EQ(Json::parse(out.detail)["availableStock"], 2);
  EXPECT_EQ(Json::parse(out.detail)["created"], true);
  EXPECT_EQ(host.handle(*rs, message("RestockInventory",
                                     Json{{"productId", "sku-a"}, {"availableStock", -3}}, "sku-a"))
                .status,
            Status::Reject);
  EXPECT_EQ(model.products["sku-a"].available, 3);
}

// ---- routes ----

namespace {
TestRequest req(const std::string& method, const std::string& id, const std::string& body = "") {
  TestRequest r;
  r.method = method;
  r.path = "/api/inventory/" + id;
  r.params = {{"productId", id}};
  r.body = body;
  return r;
}
}  // namespace

TEST_F(Fixture, GetAnswersTheProductOr404Or400) {
  auto get = host.create<inventory::GetInventory>();
  model.products["sku-a"] = Model::Product{4, 2, kNow};
  auto out = host.request(*get, req("GET", "sku-a"));
  EXPECT_EQ(out.httpStatus, 200);
  EXPECT_EQ(out.json(), (Json{{"productId", "sku-a"},
                              {"availableStock", 4},
                              {"reservedStock", 2},
                              {"updatedAt", "2026-01-01T00:00:00.000Z"}}));
  out = host.request(*get, req("GET", "missing"));
  EXPECT_EQ(out.httpStatus, 404);
  EXPECT_TRUE(out.json().contains("error"));
  out = host.request(*get, req("GET", std::string(65, 'x')));
  EXPECT_EQ(out.httpStatus, 400);
  EXPECT_TRUE(out.json().contains("error"));
}

struct Put : Fixture {
  void SetUp() override {
    Fixture::SetUp();
    host.onInvoke([this](const std::string& type, const Json& payload) {
      EXPECT_EQ(type, "RestockInventory");
      invoked.push_back(payload);
      return host.handle(*restock, message(type, payload, payload.value("productId", "")));
    });
  }
  std::unique_ptr<plexus::testing::Instance<inventory::RestockInventory>> restock =
      host.create<inventory::RestockInventory>();
  std::unique_ptr<plexus::testing::Instance<inventory::PutInventory>> put =
      host.create<inventory::PutInventory>();
  std::vector<Json> invoked;
};

TEST_F(Put, Creates201ThenUpdates200) {
  auto out = host.request(*put, req("PUT", "sku-a", R"({"availableStock": 25})"));
  EXPECT_EQ(out.httpStatus, 201) << out.body;
  EXPECT_EQ(out.json(), (Json{{"productId", "sku-a"},
                              {"availableStock", 25},
                              {"reservedStock", 0},
                              {"updatedAt", "2026-01-01T00:00:00.000Z"}}));
  host.advanceMs(1500);
  out = host.request(*put, req("PUT", "sku-a", R"({"availableStock": 0})"));
  EXPECT_EQ(out.httpStatus, 200) << out.body;
  EXPECT_EQ(out.json()["availableStock"], 0);
  EXPECT_EQ(out.json()["updatedAt"], "2026-01-01T00:00:01.500Z");
  EXPECT_FALSE(out.json().contains("created"));
  EXPECT_EQ(model.products["sku-a"].available, 0);
  ASSERT_EQ(invoked.size(), 2u);
  EXPECT_EQ(invoked[0], (Json{{"productId", "sku-a"}, {"availableStock", 25}}));
}

TEST_F(Put, BadBodiesAndIdsAre400) {
  const std::vector<std::string> bodies = {"",
                                           "{not json",
                                           "[]",
                                           "5",
                                           "{}",
                                           R"({"availableStock": -1})",
                                           R"({"availableStock": 1.5})",
                                           R"({"availableStock": "3"})",
                                           R"({"availableStock": null})",
                                           R"({"availableStock": true})",
                                           R"({"availableStock": 10000000000000})"};
  for (const auto& b : bodies) {
    auto out = host.request(*put, req("PUT", "sku-a", b));
    EXPECT_EQ(out.httpStatus, 400) << b;
    EXPECT_TRUE(out.json().contains("error")) << b;
  }
  auto out = host.request(*put, req("PUT", "bad id", R"({"availableStock": 1})"));
  EXPECT_EQ(out.httpStatus, 400);
  EXPECT_TRUE(invoked.empty());
  EXPECT_TRUE(model.products.empty());
}

TEST_F(Fixture, PutMapsAReceptorRejectTo400AndRetryTo503) {
  auto put = host.create<inventory::PutInventory>();
  host.onInvoke([](const std::string&, const Json&) {
    return plexus::testing::HandleOutcome{Status::Reject, "refused"};
  });
  auto out = host.request(*put, req("PUT", "sku-a", R"({"availableStock": 1})"));
  EXPECT_EQ(out.httpStatus, 400);
  EXPECT_EQ(out.json()["error"], "refused");
  host.onInvoke([](const std::string&, const Json&) {
    return plexus::testing::HandleOutcome{Status::Retry, "busy"};
  });
  EXPECT_EQ(host.request(*put, req("PUT", "sku-a", R"({"availableStock": 1})")).httpStatus, 503);
}
