#include "order_saga.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

namespace {

using order_saga::GetSaga;
using order_saga::OrderSaga;
using plexus::Json;
using plexus::Status;
using plexus::Value;
using plexus::testing::FakeHost;
using plexus::testing::HandleOutcome;
using plexus::testing::Outgoing;
using plexus::testing::SqlAnswer;
using plexus::testing::Statement;
using plexus::testing::TestMessage;
using plexus::testing::TestRequest;

const char* const kOrder = "0198a000-0000-7000-8000-0000000000aa";
const int64_t kStart = 1767225600000;  // FakeHost clock: 2026-01-01T00:00:00Z

bool startsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// A tiny in-memory model of the plugin's two tables, answering exactly the statements it runs.
struct Db {
  std::map<std::string, plexus::Row> state;                          // order_id -> 16 columns
  std::map<std::pair<std::string, std::string>, plexus::Row> steps;  // (order, step) -> row
  bool failUpdates = false;  // simulates another writer: every UPDATE matches no row

  SqlAnswer answer(const Statement& st) {
    SqlAnswer a;
    const auto& p = st.params;
    if (startsWith(st.sql, "SELECT order_id, status")) {
      auto it = state.find(p.at(0).asText());
      if (it != state.end()) a.rows.push_back(it->second);
    } else if (startsWith(st.sql, "INSERT INTO order_saga_state")) {
      EXPECT_EQ(p.size(), 16u);
      if (state.count(p.at(0).asText()) == 0) {
        state[p.at(0).asText()] = p;
        a.affected = 1;
      }
    } else if (startsWith(st.sql, "UPDATE order_saga_state")) {
      EXPECT_EQ(p.size(), 10u);
      auto it = state.find(p.at(8).asText());
      if (!failUpdates && it != state.end() && it->second[15].asInt() == p.at(9).asInt()) {
        plexus::Row& r = it->second;
        r[1] = p[0];   // status
        r[2] = p[1];   // current_step
        r[3] = p[2];   // payment_id
        r[4] = p[3];   // shipment_id
        r[5] = p[4];   // error
        r[12] = p[5];  // refund_requested
        r[14] = p[6];  // updated_at
        r[15] = p[7];  // version
        a.affected = 1;
      }
    } else if (startsWith(st.sql, "INSERT INTO order_saga_steps")) {
      steps[{p.at(0).asText(), p.at(1).asText()}] = {p.at(1), p.at(2), p.at(3)};
      a.affected = 1;
    } else if (startsWith(st.sql, "SELECT step, status, changed_at")) {
      for (const auto& [k, row] : steps) {
        if (k.first == p.at(0).asText()) a.rows.push_back(row);
      }
    } else {
      ADD_FAILURE() << "unexpected SQL: " << st.sql;
    }
    return a;
  }
};

Json orderCreated(const std::string& orderId = kOrder) {
  return Json{{"orderId", orderId},
              {"customerId", "cust-1"},
              {"items", Json::array({Json{{"productId", "sku-1"},
                                          {"quantity", 2},
                                          {"unitPrice", 19.99},
                                          {"lineTotal", 39.98}},
                                     Json{{"productId", "sku-2"},
                                          {"quantity", 1},
                                          {"unitPrice", 49.99},
                                          {"lineTotal", 49.99}}})},
              {"shippingAddress", Json{{"street", "1 Main St"},
                                       {"city", "Springfield"},
                                       {"state", "IL"},
                                       {"zipCode", "62701"},
                                       {"country", "US"}}},
              {"totalAmount", 89.97},
              {"currency", "EUR"},
              {"paymentMethod", "pm_card_visa"},
              {"customerEmail", "cust-1@example.com"},
              {"customerPhone", "+15005550006"},
              {"createdAt", "2026-01-01T00:00:00.000Z"}};
}

class SagaTest : public ::testing::Test {
 protected:
  explicit SagaTest(const std::string& config = "{}") : host_(config) {
    host_.onSql([this](const Statement& st) { return db_.answer(st); });
    saga_ = host_.create<OrderSaga>();
    route_ = host_.create<GetSaga>();
  }

  // Delivers a message with a fresh message id (as a new emission would have).
  HandleOutcome deliver(const std::string& type, const Json& payload,
                        const std::string& stream = kOrder) {
    TestMessage m = plexus::testing::message(type, payload, stream);
    char id[40];
    std::snprintf(id, sizeof id, "00000000-0000-7000-9000-%012d", ++messages_);
    m.id = id;
    return host_.handle(*saga_, m);
  }
  HandleOutcome ok(const std::string& type, const Json& payload) {
    HandleOutcome out = deliver(type, payload);
    EXPECT_EQ(out.status, Status::Ok) << type << ": " << out.detail;
    return out;
  }

  Json view(const std::string& orderId = kOrder) {
    TestRequest rq;
    rq.path = "/api/sagas/" + orderId;
    rq.params = {{"orderId", orderId}};
    auto out = host_.request(*route_, rq);
    EXPECT_EQ(out.httpStatus, 200) << out.body;
    return out.json();
  }
  std::string status(const std::string& orderId = kOrder) { return view(orderId)["status"]; }

  // Drives the saga to `step` along the happy path and clears the outgoing messages.
  void reach(const std::string& step) {
    ok("OrderCreated", orderCreated());
    if (step != "InventoryReserving") ok("InventoryReserved", {{"orderId", kOrder}});
    if (step == "ShipmentCreating" || step == "Completed") {
      ok("PaymentProcessed", {{"orderId", kOrder}, {"paymentId", "pay-1"}});
    }
    if (step == "Completed") ok("ShipmentCreated", {{"orderId", kOrder}, {"shipmentId", "shp-1"}});
    host_.clearOutgoing();
  }
  int64_t version() { return db_.state.at(kOrder)[15].asInt(); }
  Json timeout(const std::string& step, int64_t version) {
    return Json{{"orderId", kOrder}, {"step", step}, {"version", version}};
  }

  std::vector<std::string> sentTypes() {
    std::vector<std::string> types;
    for (const Outgoing& o : host_.sent()) types.push_back(o.type);
    return types;
  }
  void expectNothingSent() {
    EXPECT_TRUE(host_.sent().empty()) << host_.sent().front().type;
    EXPECT_TRUE(host_.scheduled().empty());
  }

  Db db_;
  FakeHost host_;
  std::unique_ptr<plexus::testing::Instance<OrderSaga>> saga_;
  std::unique_ptr<plexus::testing::Instance<GetSaga>> route_;
  int messages_ = 0;
};

class ShortTimeoutSagaTest : public SagaTest {
 protected:
  ShortTimeoutSagaTest() : SagaTest(R"({"timeout_seconds": "5"})") {}
};

using Strings = std::vector<std::string>;

// ---- pure helpers ----

TEST(Money, ParsesAmountsWithAtMostTwoDecimals) {
  EXPECT_EQ(order_saga::toCents(Json(89.97)), 8997);
  EXPECT_EQ(order_saga::toCents(Json(0.1)), 10);
  EXPECT_EQ(order_saga::toCents(Json(12)), 1200);
  EXPECT_EQ(order_saga::toCents(Json(0)), 0);
  EXPECT_EQ(order_saga::toCents(Json(1.005)), std::nullopt);
  EXPECT_EQ(order_saga::toCents(Json(-1)), std::nullopt);
  EXPECT_EQ(order_saga::toCents(Json(-0.5)), std::nullopt);
  EXPECT_EQ(order_saga::toCents(Json("1.00")), std::nullopt);
  EXPECT_EQ(order_saga::toCents(Json(nullptr)), std::nullopt);
}

TEST(Money, FormatsCentsAsANumberWithTwoDecimals) {
  EXPECT_EQ(plexus::money::toJson(8997).dump(), "89.97");
  EXPECT_EQ(plexus::money::toJson(1200).dump(), "12");
  EXPECT_EQ(plexus::money::toJson(5).dump(), "0.05");
  EXPECT_EQ(plexus::money::toJson(1999).get<double>(), 19.99);
}

TEST(Time, FormatsRfc3339Utc) {
  EXPECT_EQ(plexus::rfc3339::format(kStart), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(plexus::rfc3339::format(kStart + 86400000 + 3723004), "2026-01-02T01:02:03.004Z");
}

TEST(Config, TimeoutDefaultsTo600SecondsAndAcceptsNumbersOrNumericStrings) {
  EXPECT_EQ(order_saga::timeoutMsFromConfig(Json::object()), 600000);
  EXPECT_EQ(order_saga::timeoutMsFromConfig(Json{{"timeout_seconds", 5}}), 5000);
  EXPECT_EQ(order_saga::timeoutMsFromConfig(Json{{"timeout_seconds", 0.25}}), 250);
  EXPECT_EQ(order_saga::timeoutMsFromConfig(Json{{"timeout_seconds", "30"}}), 30000);
  EXPECT_THROW(order_saga::timeoutMsFromConfig(Json{{"timeout_seconds", 0}}),
               std::invalid_argument);
  EXPECT_THROW(order_saga::timeoutMsFromConfig(Json{{"timeout_seconds", -3}}),
               std::invalid_argument);
  EXPECT_THROW(order_saga::timeoutMsFromConfig(Json{{"timeout_seconds", "10s"}}),
               std::invalid_argument);
  EXPECT_THROW(order_saga::timeoutMsFromConfig(Json{{"timeout_seconds", true}}),
               std::invalid_argument);
}

TEST(Config, ABadTimeoutRefusesToConstructTheSaga) {
  FakeHost host(R"({"timeout_seconds": "soon"})");
  EXPECT_THROW(host.create<OrderSaga>(), std::runtime_error);
}

TEST(Decide, ReturnsNoChangeForAnEventOfAnotherStep) {
  auto created = order_saga::decide(nullptr, kOrder, "OrderCreated", orderCreated(), kStart);
  ASSERT_TRUE(created.applies);
  auto d = order_saga::decide(&created.next, kOrder, "ShipmentCreated", Json{{"shipmentId", "s"}},
                              kStart);
  EXPECT_FALSE(d.applies);
  EXPECT_TRUE(d.commands.empty());
}

TEST(Decide, FlagsUnknownOrdersAndLateOutcomesForTheOperator) {
  EXPECT_TRUE(order_saga::decide(nullptr, kOrder, "PaymentProcessed", Json::object(), kStart).warn);
  auto created = order_saga::decide(nullptr, kOrder, "OrderCreated", orderCreated(), kStart);
  EXPECT_FALSE(created.warn);
  auto cancelled =
      order_saga::decide(&created.next, kOrder, "OrderCancelled", Json{{"reason", "x"}}, kStart);
  EXPECT_FALSE(cancelled.warn);
  auto late = order_saga::decide(&cancelled.next, kOrder, "PaymentProcessed",
                                 Json{{"paymentId", "p"}}, kStart);
  EXPECT_TRUE(late.applies);
  EXPECT_TRUE(late.warn);
  EXPECT_TRUE(late.commands.empty());
}

// ---- transitions ----

TEST_F(SagaTest, OrderCreatedStartsTheSagaAndReservesInventory) {
  ok("OrderCreated", orderCreated());
  ASSERT_EQ(sentTypes(), Strings{"ReserveInventory"});
  const Outgoing& cmd = host_.sent()[0];
  EXPECT_EQ(cmd.stream, kOrder);
  EXPECT_EQ(cmd.payload,
            (Json{{"orderId", kOrder},
                  {"items", Json::array({Json{{"productId", "sku-1"}, {"quantity", 2}},
                                         Json{{"productId", "sku-2"}, {"quantity", 1}}})}}));
  ASSERT_EQ(host_.scheduled().size(), 1u);
  const Outgoing& t = host_.scheduled()[0];
  EXPECT_EQ(t.type, "OrderSagaTimeout");
  EXPECT_EQ(t.stream, kOrder);
  EXPECT_EQ(t.deliverAtMs, kStart + 600000);
  EXPECT_EQ(t.payload, timeout("InventoryReserving", 1));

  Json v = view();
  EXPECT_EQ(v["orderId"], kOrder);
  EXPECT_EQ(v["status"], "InProgress");
  EXPECT_EQ(v["currentStep"], "InventoryReserving");
  EXPECT_EQ(v["createdAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_FALSE(v.contains("paymentId"));
  EXPECT_FALSE(v.contains("shipmentId"));
  EXPECT_FALSE(v.contains("error"));
  EXPECT_EQ(
      v["steps"],
      Json::parse(
          R"([{"step":"InventoryReserving","status":"InProgress","timestamp":"2026-01-01T00:00:00.000Z"},
                            {"step":"PaymentProcessing","status":"Pending","timestamp":null},
                            {"step":"ShipmentCreating","status":"Pending","timestamp":null}])"));
  EXPECT_EQ(host_.metric("order_saga_started_total"), 1.0);
  EXPECT_EQ(host_.metric("order_saga_events_total", {"OrderCreated", "applied"}), 1.0);
}

TEST_F(ShortTimeoutSagaTest, TheTimeoutComesFromTheConfig) {
  ok("OrderCreated", orderCreated());
  ASSERT_EQ(host_.scheduled().size(), 1u);
  EXPECT_EQ(host_.scheduled()[0].deliverAtMs, kStart + 5000);
}

TEST_F(SagaTest, AMalformedOrderCreatedIsRejectedAndStartsNothing) {
  for (const char* field : {"items", "totalAmount", "customerId", "shippingAddress"}) {
    Json bad = orderCreated();
    bad.erase(field);
    EXPECT_EQ(deliver("OrderCreated", bad).status, Status::Reject) << field;
  }
  Json badQty = orderCreated();
  badQty["items"][0]["quantity"] = 0;
  EXPECT_EQ(deliver("OrderCreated", badQty).status, Status::Reject);
  Json badTotal = orderCreated();
  badTotal["totalAmount"] = 1.234;
  EXPECT_EQ(deliver("OrderCreated", badTotal).status, Status::Reject);
  expectNothingSent();
  EXPECT_TRUE(db_.state.empty());
}

TEST_F(SagaTest, ADuplicateOrderCreatedSendsNothingMore) {
  ok("OrderCreated", orderCreated());
  host_.clearOutgoing();
  ok("OrderCreated", orderCreated());
  expectNothingSent();
  EXPECT_EQ(version(), 1);
  EXPECT_EQ(host_.metric("order_saga_events_total", {"OrderCreated", "ignored"}), 1.0);
}

TEST_F(SagaTest, InventoryReservedProcessesThePayment) {
  reach("InventoryReserving");
  host_.advanceMs(1500);
  ok("InventoryReserved", {{"orderId", kOrder}, {"items", Json::array()}});
  ASSERT_EQ(sentTypes(), Strings{"ProcessPayment"});
  EXPECT_EQ(host_.sent()[0].stream, kOrder);
  EXPECT_EQ(host_.sent()[0].payload, (Json{{"orderId", kOrder},
                                           {"customerId", "cust-1"},
                                           {"amount", 89.97},
                                           {"currency", "EUR"},
                                           {"paymentMethod", "pm_card_visa"}}));
  EXPECT_EQ(host_.sent()[0].payload.dump().find("89.97") != std::string::npos, true);
  ASSERT_EQ(host_.scheduled().size(), 1u);
  EXPECT_EQ(host_.scheduled()[0].payload, timeout("PaymentProcessing", 2));
  EXPECT_EQ(host_.scheduled()[0].deliverAtMs, kStart + 1500 + 600000);
  Json v = view();
  EXPECT_EQ(v["currentStep"], "PaymentProcessing");
  EXPECT_EQ(v["updatedAt"], "2026-01-01T00:00:01.500Z");
  EXPECT_EQ(v["steps"][0]["status"], "Completed");
  EXPECT_EQ(v["steps"][0]["timestamp"], "2026-01-01T00:00:01.500Z");
  EXPECT_EQ(v["steps"][1]["status"], "InProgress");
  EXPECT_EQ(v["steps"][2]["status"], "Pending");
}

TEST_F(SagaTest, ASecondInventoryReservedDoesNotChargeTwice) {
  reach("PaymentProcessing");
  ok("InventoryReserved", {{"orderId", kOrder}});
  expectNothingSent();
  EXPECT_EQ(view()["currentStep"], "PaymentProcessing");
}

TEST_F(SagaTest, InventoryInsufficientCancelsTheOrder) {
  reach("InventoryReserving");
  ok("InventoryInsufficient", {{"orderId", kOrder},
                               {"productId", "sku-2"},
                               {"requestedQuantity", 1},
                               {"availableStock", 0}});
  ASSERT_EQ(sentTypes(), Strings{"CancelOrder"});
  EXPECT_EQ(host_.sent()[0].payload,
            (Json{{"orderId", kOrder}, {"reason", "Insufficient inventory"}}));
  EXPECT_EQ(host_.sent()[0].stream, kOrder);
  EXPECT_TRUE(host_.scheduled().empty());
  Json v = view();
  EXPECT_EQ(v["status"], "Compensating");
  EXPECT_EQ(v["error"], "Insufficient inventory: product sku-2 requested 1, available 0");
  EXPECT_EQ(host_.metric("order_saga_status_changes_total", {"Compensating"}), 1.0);
}

TEST_F(SagaTest, PaymentProcessedCreatesTheShipment) {
  reach("PaymentProcessing");
  ok("PaymentProcessed", {{"orderId", kOrder}, {"paymentId", "pay-1"}, {"status", "Captured"}});
  ASSERT_EQ(sentTypes(), Strings{"CreateShipment"});
  EXPECT_EQ(host_.sent()[0].payload,
            (Json{{"orderId", kOrder},
                  {"customerId", "cust-1"},
                  {"shippingAddress", orderCreated()["shippingAddress"]}}));
  ASSERT_EQ(host_.scheduled().size(), 1u);
  EXPECT_EQ(host_.scheduled()[0].payload, timeout("ShipmentCreating", 3));
  Json v = view();
  EXPECT_EQ(v["currentStep"], "ShipmentCreating");
  EXPECT_EQ(v["paymentId"], "pay-1");
  EXPECT_EQ(v["steps"][1]["status"], "Completed");
  EXPECT_EQ(v["steps"][2]["status"], "InProgress");
}

TEST_F(SagaTest, PaymentFailedReleasesInventoryThenCancels) {
  reach("PaymentProcessing");
  ok("PaymentFailed", {{"orderId", kOrder}, {"paymentId", "pay-9"}, {"reason", "card declined"}});
  ASSERT_EQ(sentTypes(), (Strings{"ReleaseInventory", "CancelOrder"}));
  const Json expected{{"orderId", kOrder}, {"reason", "Payment failed: card declined"}};
  EXPECT_EQ(host_.sent()[0].payload, expected);
  EXPECT_EQ(host_.sent()[1].payload, expected);
  EXPECT_TRUE(host_.scheduled().empty());
  Json v = view();
  EXPECT_EQ(v["status"], "Compensating");
  EXPECT_EQ(v["error"], "Payment failed: card declined");
  EXPECT_EQ(v["steps"][1]["status"], "InProgress");  // never completed
}

TEST_F(SagaTest, ShipmentCreatedCompletesTheSaga) {
  reach("ShipmentCreating");
  ok("ShipmentCreated", {{"orderId", kOrder}, {"shipmentId", "shp-1"}, {"trackingNumber", "T1"}});
  expectNothingSent();
  Json v = view();
  EXPECT_EQ(v["status"], "Completed");
  EXPECT_EQ(v["currentStep"], "Completed");
  EXPECT_EQ(v["shipmentId"], "shp-1");
  EXPECT_EQ(v["paymentId"], "pay-1");
  for (const Json& s : v["steps"]) EXPECT_EQ(s["status"], "Completed") << s.dump();
  EXPECT_EQ(host_.metric("order_saga_status_changes_total", {"Completed"}), 1.0);
}

TEST_F(SagaTest, ShipmentFailedRefundsReleasesThenCancels) {
  reach("ShipmentCreating");
  ok("ShipmentFailed", {{"orderId", kOrder}, {"reason", "address refused by carrier"}});
  ASSERT_EQ(sentTypes(), (Strings{"RefundPayment", "ReleaseInventory", "CancelOrder"}));
  const Json expected{{"orderId", kOrder},
                      {"reason", "Shipment failed: address refused by carrier"}};
  for (const Outgoing& o : host_.sent()) {
    EXPECT_EQ(o.payload, expected) << o.type;
    EXPECT_EQ(o.stream, kOrder);
  }
  EXPECT_EQ(view()["status"], "Compensating");
}

TEST_F(SagaTest, OrderCancelledEndsACompensatingSaga) {
  reach("PaymentProcessing");
  ok("PaymentFailed", {{"orderId", kOrder}, {"reason", "card declined"}});
  host_.clearOutgoing();
  ok("OrderCancelled", {{"orderId", kOrder}, {"reason", "Payment failed: card declined"}});
  expectNothingSent();
  Json v = view();
  EXPECT_EQ(v["status"], "Cancelled");
  EXPECT_EQ(v["error"], "Payment failed: card declined");
  EXPECT_EQ(host_.metric("order_saga_status_changes_total", {"Cancelled"}), 1.0);
}

TEST_F(SagaTest, OrderCancelledWhileInProgressCancelsWithoutCommands) {
  reach("PaymentProcessing");
  ok("OrderCancelled", {{"orderId", kOrder}, {"reason", "customer request"}});
  expectNothingSent();
  Json v = view();
  EXPECT_EQ(v["status"], "Cancelled");
  EXPECT_EQ(v["error"], "Order cancelled: customer request");
}

TEST_F(SagaTest, TheHappyPathEndToEnd) {
  reach("Completed");
  Json v = view();
  EXPECT_EQ(v["status"], "Completed");
  EXPECT_EQ(version(), 4);
  EXPECT_EQ(host_.metric("order_saga_events_total", {"ShipmentCreated", "applied"}), 1.0);
}

// ---- timeouts ----

TEST_F(SagaTest, ATimeoutAtInventoryReservingReleasesAndCancels) {
  reach("InventoryReserving");
  ok("OrderSagaTimeout", timeout("InventoryReserving", 1));
  ASSERT_EQ(sentTypes(), (Strings{"ReleaseInventory", "CancelOrder"}));
  const Json expected{{"orderId", kOrder}, {"reason", "Saga timed out at step InventoryReserving"}};
  EXPECT_EQ(host_.sent()[1].payload, expected);
  EXPECT_EQ(host_.sent()[1].stream, kOrder);
  Json v = view();
  EXPECT_EQ(v["status"], "Compensating");
  EXPECT_EQ(v["error"], "Saga timed out at step InventoryReserving");
}

TEST_F(SagaTest, ATimeoutAtPaymentProcessingReleasesAndCancels) {
  reach("PaymentProcessing");
  ok("OrderSagaTimeout", timeout("PaymentProcessing", version()));
  ASSERT_EQ(sentTypes(), (Strings{"ReleaseInventory", "CancelOrder"}));
  EXPECT_EQ(host_.sent()[0].payload,
            (Json{{"orderId", kOrder}, {"reason", "Saga timed out at step PaymentProcessing"}}));
  EXPECT_EQ(host_.sent()[1].payload["reason"], "Saga timed out at step PaymentProcessing");
  EXPECT_EQ(status(), "Compensating");
}

TEST_F(SagaTest, ATimeoutAtShipmentCreatingRefundsReleasesAndCancels) {
  reach("ShipmentCreating");
  ok("OrderSagaTimeout", timeout("ShipmentCreating", version()));
  ASSERT_EQ(sentTypes(), (Strings{"RefundPayment", "ReleaseInventory", "CancelOrder"}));
  EXPECT_EQ(host_.sent()[2].payload["reason"], "Saga timed out at step ShipmentCreating");
  EXPECT_EQ(status(), "Compensating");
}

TEST_F(SagaTest, AStaleTimeoutDoesNothing) {
  reach("ShipmentCreating");
  ok("OrderSagaTimeout", timeout("InventoryReserving", 1));
  ok("OrderSagaTimeout", timeout("PaymentProcessing", 2));
  ok("OrderSagaTimeout", timeout("ShipmentCreating", version() - 1));  // same step, old version
  expectNothingSent();
  EXPECT_EQ(status(), "InProgress");
  EXPECT_EQ(host_.metric("order_saga_events_total", {"OrderSagaTimeout", "ignored"}), 3.0);
}

TEST_F(SagaTest, ATimeoutAfterTheEndDoesNothing) {
  reach("Completed");
  ok("OrderSagaTimeout", timeout("ShipmentCreating", 3));
  expectNothingSent();
  EXPECT_EQ(status(), "Completed");
}

TEST_F(SagaTest, ATimeoutWhileCompensatingDoesNothing) {
  reach("PaymentProcessing");
  ok("PaymentFailed", {{"orderId", kOrder}, {"reason", "declined"}});
  host_.clearOutgoing();
  ok("OrderSagaTimeout", timeout("PaymentProcessing", 2));
  expectNothingSent();
}

TEST_F(SagaTest, AMalformedTimeoutIsRejected) {
  reach("InventoryReserving");
  EXPECT_EQ(deliver("OrderSagaTimeout", Json{{"orderId", kOrder}}).status, Status::Reject);
  EXPECT_EQ(deliver("OrderSagaTimeout", Json{{"orderId", kOrder}, {"step", "x"}, {"version", "1"}})
                .status,
            Status::Reject);
  expectNothingSent();
}

TEST_F(SagaTest, ThePaymentTimeoutFlowEndsCancelled) {
  reach("PaymentProcessing");
  ok("OrderSagaTimeout", timeout("PaymentProcessing", 2));
  ok("OrderCancelled",
     {{"orderId", kOrder}, {"reason", "Saga timed out at step PaymentProcessing"}});
  Json v = view();
  EXPECT_EQ(v["status"], "Cancelled");
  EXPECT_EQ(v["error"], "Saga timed out at step PaymentProcessing");
}

// ---- duplicates, late and out-of-step events ----

TEST_F(SagaTest, EveryStepOutcomeIsAppliedOnlyOnce) {
  reach("ShipmentCreating");
  ok("PaymentProcessed", {{"orderId", kOrder}, {"paymentId", "pay-2"}});
  ok("InventoryReserved", {{"orderId", kOrder}});
  ok("PaymentFailed", {{"orderId", kOrder}, {"reason", "late"}});
  ok("InventoryInsufficient", {{"orderId", kOrder}});
  expectNothingSent();
  Json v = view();
  EXPECT_EQ(v["paymentId"], "pay-1");
  EXPECT_EQ(v["status"], "InProgress");
}

TEST_F(SagaTest, OutcomesOfAStepNotReachedAreIgnored) {
  reach("InventoryReserving");
  ok("PaymentProcessed", {{"orderId", kOrder}, {"paymentId", "pay-1"}});
  ok("ShipmentCreated", {{"orderId", kOrder}, {"shipmentId", "shp-1"}});
  ok("ShipmentFailed", {{"orderId", kOrder}, {"reason", "?"}});
  ok("PaymentFailed", {{"orderId", kOrder}, {"reason", "?"}});
  expectNothingSent();
  Json v = view();
  EXPECT_EQ(v["currentStep"], "InventoryReserving");
  EXPECT_FALSE(v.contains("paymentId"));
}

TEST_F(SagaTest, DuplicateCompensationTriggersCompensateOnce) {
  reach("ShipmentCreating");
  ok("ShipmentFailed", {{"orderId", kOrder}, {"reason", "refused"}});
  host_.clearOutgoing();
  ok("ShipmentFailed", {{"orderId", kOrder}, {"reason", "refused"}});
  ok("OrderSagaTimeout", timeout("ShipmentCreating", 3));
  expectNothingSent();
}

TEST_F(SagaTest, EventsAfterCompletionSendNothing) {
  reach("Completed");
  for (const char* type :
       {"OrderCreated", "InventoryReserved", "InventoryInsufficient", "PaymentProcessed",
        "PaymentFailed", "ShipmentCreated", "ShipmentFailed", "OrderCancelled"}) {
    ok(type, Json{{"orderId", kOrder}, {"reason", "late"}});
  }
  expectNothingSent();
  EXPECT_EQ(status(), "Completed");
  EXPECT_EQ(version(), 4);
}

TEST_F(SagaTest, EventsAfterCancellationSendNothing) {
  reach("PaymentProcessing");
  ok("OrderCancelled", {{"orderId", kOrder}, {"reason", "x"}});
  host_.clearOutgoing();
  ok("InventoryReserved", {{"orderId", kOrder}});
  ok("ShipmentFailed", {{"orderId", kOrder}, {"reason", "y"}});
  ok("PaymentFailed", {{"orderId", kOrder}, {"reason", "y"}});
  ok("OrderCancelled", {{"orderId", kOrder}, {"reason", "again"}});
  ok("PaymentProcessed", {{"orderId", kOrder}, {"paymentId", "pay-late"}});
  ok("ShipmentCreated", {{"orderId", kOrder}, {"shipmentId", "shp-late"}});
  expectNothingSent();
  Json v = view();
  EXPECT_EQ(v["status"], "Cancelled");
  EXPECT_EQ(v["paymentId"], "pay-late");  // recorded for the operator, nothing sent
  EXPECT_EQ(v["shipmentId"], "shp-late");
}

TEST_F(SagaTest, APaymentCapturedWhileCompensatingIsRefundedOnce) {
  reach("PaymentProcessing");
  ok("OrderSagaTimeout", timeout("PaymentProcessing", 2));
  host_.clearOutgoing();
  ok("PaymentProcessed", {{"orderId", kOrder}, {"paymentId", "pay-late"}});
  ASSERT_EQ(sentTypes(), Strings{"RefundPayment"});
  EXPECT_EQ(host_.sent()[0].payload["orderId"], kOrder);
  EXPECT_EQ(host_.sent()[0].stream, kOrder);
  host_.clearOutgoing();
  ok("PaymentProcessed", {{"orderId", kOrder}, {"paymentId", "pay-late"}});
  expectNothingSent();
  Json v = view();
  EXPECT_EQ(v["paymentId"], "pay-late");
  EXPECT_EQ(v["status"], "Compensating");
}

TEST_F(SagaTest, NoSecondRefundWhenShipmentCompensationAlreadyRefunded) {
  reach("ShipmentCreating");
  ok("ShipmentFailed", {{"orderId", kOrder}, {"reason", "refused"}});
  host_.clearOutgoing();
  ok("PaymentProcessed", {{"orderId", kOrder}, {"paymentId", "pay-1"}});
  expectNothingSent();
}

// ---- unknown orders ----

TEST_F(SagaTest, EventsForAnUnknownOrderAreIgnored) {
  for (const char* type : {"InventoryReserved", "InventoryInsufficient", "PaymentProcessed",
                           "PaymentFailed", "ShipmentCreated", "ShipmentFailed"}) {
    ok(type, Json{{"orderId", kOrder}, {"reason", "r"}});
  }
  ok("OrderSagaTimeout", timeout("PaymentProcessing", 2));
  expectNothingSent();
  EXPECT_TRUE(db_.state.empty());
  TestRequest rq;
  rq.params = {{"orderId", kOrder}};
  EXPECT_EQ(host_.request(*route_, rq).httpStatus, 404);
}

TEST_F(SagaTest, OrderCancelledForAnUnknownOrderIsRecordedAndBlocksALateStart) {
  ok("OrderCancelled", {{"orderId", kOrder}, {"reason", "fraud"}});
  expectNothingSent();
  Json v = view();
  EXPECT_EQ(v["status"], "Cancelled");
  EXPECT_TRUE(v["currentStep"].is_null());
  EXPECT_EQ(v["error"], "Order cancelled: fraud");
  for (const Json& s : v["steps"]) EXPECT_EQ(s["status"], "Pending");
  ok("OrderCreated", orderCreated());
  expectNothingSent();
  EXPECT_EQ(status(), "Cancelled");
}

TEST_F(SagaTest, TheOrderIdFallsBackToTheStream) {
  Json e = orderCreated();
  e.erase("orderId");
  ok("OrderCreated", e);
  ASSERT_EQ(sentTypes(), Strings{"ReserveInventory"});
  EXPECT_EQ(host_.sent()[0].payload["orderId"], kOrder);
  EXPECT_EQ(deliver("InventoryReserved", Json::object(), "").status, Status::Reject);
  EXPECT_EQ(deliver("InventoryReserved", Json::array(), kOrder).status, Status::Reject);
}

// ---- robustness of the write ----

TEST_F(SagaTest, AConcurrentChangeRetriesAndSendsNothing) {
  reach("InventoryReserving");
  db_.failUpdates = true;
  EXPECT_EQ(deliver("InventoryReserved", {{"orderId", kOrder}}).status, Status::Retry);
  expectNothingSent();
  db_.failUpdates = false;
  ok("InventoryReserved", {{"orderId", kOrder}});
  EXPECT_EQ(sentTypes(), Strings{"ProcessPayment"});
}

TEST_F(SagaTest, AStoreFailureRetries) {
  host_.onSql([](const Statement&) {
    SqlAnswer a;
    a.status = Status::Retry;
    a.error = "connection lost";
    return a;
  });
  EXPECT_EQ(deliver("OrderCreated", orderCreated()).status, Status::Retry);
  expectNothingSent();
}

TEST_F(SagaTest, SqlIsParameterised) {
  reach("Completed");
  TestRequest rq;
  rq.params = {{"orderId", kOrder}};
  host_.request(*route_, rq);
  ASSERT_FALSE(host_.statements().empty());
  for (const Statement& st : host_.statements()) {
    EXPECT_EQ(st.sql.find(kOrder), std::string::npos) << st.sql;
    EXPECT_EQ(st.sql.find("cust-1"), std::string::npos) << st.sql;
  }
}

// ---- route ----

TEST_F(SagaTest, TheRouteAnswers404ForAnUnknownSaga) {
  TestRequest rq;
  rq.path = "/api/sagas/nope";
  rq.params = {{"orderId", "nope"}};
  auto out = host_.request(*route_, rq);
  EXPECT_EQ(out.httpStatus, 404);
  EXPECT_EQ(out.json()["error"], "saga not found");
  rq.params = {{"orderId", std::string(65, 'a')}};
  EXPECT_EQ(host_.request(*route_, rq).httpStatus, 404);
}

TEST(SagaView, ShowsOptionalFieldsOnlyWhenSet) {
  order_saga::SagaState s;
  s.orderId = "o-1";
  s.status = "Completed";
  s.currentStep = "Completed";
  s.paymentId = "p";
  s.shipmentId = "s";
  s.createdAtMs = kStart;
  s.updatedAtMs = kStart + 1;
  Json v = order_saga::sagaView(s, {{"ShipmentCreating", "Completed", kStart + 1},
                                    {"InventoryReserving", "Completed", kStart}});
  EXPECT_EQ(v["paymentId"], "p");
  EXPECT_EQ(v["shipmentId"], "s");
  EXPECT_FALSE(v.contains("error"));
  EXPECT_EQ(v["updatedAt"], "2026-01-01T00:00:00.001Z");
  ASSERT_EQ(v["steps"].size(), 3u);  // always in step order, whatever the row order
  EXPECT_EQ(v["steps"][0]["step"], "InventoryReserving");
  EXPECT_EQ(v["steps"][1]["status"], "Pending");
  EXPECT_EQ(v["steps"][2]["step"], "ShipmentCreating");
  EXPECT_EQ(v["steps"][2]["timestamp"], "2026-01-01T00:00:00.001Z");
}

}  // namespace
