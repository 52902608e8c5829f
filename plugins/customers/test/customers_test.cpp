#include "customers.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

using plexus::Json;
using plexus::Status;
using plexus::Value;
using plexus::testing::FakeHost;
using plexus::testing::SqlAnswer;
using plexus::testing::Statement;
using plexus::testing::TestMessage;
using plexus::testing::TestRequest;

namespace {

// ---- a tiny in-memory model of the two tables, answering exactly the plugin's statements ----

struct OrderRow {
  Value customerId;
  int64_t created = 0, totalCents = 0, itemCount = 0, shipmentCreated = 0, cancelled = 0;
  int64_t orderCounted = 0, spentCounted = 0;
  Value currency, address, createdAt, paymentId, paymentStatus, processedAt, shipmentId, tracking,
      estimated, delivered, reason, cancelledAt;
  std::string status = "Pending";
};

struct ActivityRow {
  int64_t orders = 0, spent = 0, lastAt = 0, firstAt = 0;
  std::string currency, lastId;
};

bool has(const std::string& sql, const char* s) { return sql.find(s) != std::string::npos; }

class Model {
 public:
  std::map<std::string, OrderRow> orders;
  std::map<std::string, ActivityRow> activity;
  bool conflictOnFlags = false;  // simulate a concurrent writer on the flags update
  bool failAll = false;          // simulate a lost connection (RETRY)

  SqlAnswer operator()(const Statement& st) {
    const auto& p = st.params;
    const std::string& q = st.sql;
    SqlAnswer a;
    if (failAll) return SqlAnswer{Status::Retry, {}, 0, "connection lost"};
    if (has(q, "INSERT INTO customers_order_summary")) {
      a.affected = orders.count(p[0].asText()) ? 0 : 1;
      orders.emplace(p[0].asText(), OrderRow{});
    } else if (has(q, "SET created = 1")) {
      auto& o = orders.at(p[7].asText());
      if (o.created == 0) {
        o.created = 1;
        o.customerId = p[0];
        o.totalCents = p[1].asInt();
        o.currency = p[2];
        o.itemCount = p[3].asInt();
        o.address = p[4];
        o.createdAt = p[5];
        a.affected = 1;
      }
    } else if (has(q, "SET payment_id")) {
      auto& o = orders.at(p[4].asText());
      if (o.paymentId.isNull()) {
        o.paymentId = p[0];
        o.paymentStatus = p[1];
        o.processedAt = p[2];
        a.affected = 1;
      }
    } else if (has(q, "SET shipment_created = 1")) {
      auto& o = orders.at(p[4].asText());
      if (o.shipmentCreated == 0) {
        o.shipmentCreated = 1;
        o.shipmentId = p[0];
        o.tracking = p[1];
        o.estimated = p[2];
        a.affected = 1;
      }
    } else if (has(q, "SET actual_delivery")) {
      auto& o = orders.at(p[4].asText());
      if (o.delivered.isNull()) {
        o.delivered = p[0];
        if (o.shipmentId.isNull()) o.shipmentId = p[1];
        if (o.tracking.isNull()) o.tracking = p[2];
        a.affected = 1;
      }
    } else if (has(q, "SET cancelled = 1")) {
      auto& o = orders.at(p[3].asText());
      if (o.cancelled == 0) {
        o.cancelled = 1;
        o.reason = p[0];
        o.cancelledAt = p[1];
        a.affected = 1;
      }
    } else if (has(q, "SELECT created, customer_id")) {
      auto it = orders.find(p[0].asText());
      if (it != orders.end()) {
        const auto& o = it->second;
        a.rows.push_back({Value(static_cast<long long>(o.created)), o.customerId,
                          Value(static_cast<long long>(o.totalCents)), o.currency, o.createdAt,
                          o.paymentId, o.shipmentId, o.delivered,
                          Value(static_cast<long long>(o.cancelled)), Value(o.status),
                          Value(static_cast<long long>(o.orderCounted)),
                          Value(static_cast<long long>(o.spentCounted))});
      }
    } else if (has(q, "SET status = $1")) {
      auto& o = orders.at(p[3].asText());
      if (!conflictOnFlags && o.orderCounted == p[4].asInt() && o.spentCounted == p[5].asInt()) {
        o.status = p[0].asText();
        o.orderCounted = p[1].asInt();
        o.spentCounted = p[2].asInt();
        a.affected = 1;
      }
    } else if (has(q, "INSERT INTO customers_activity")) {
      const std::string id = p[0].asText();
      auto it = activity.find(id);
      const int64_t at = p[5].asInt();
      if (it == activity.end()) {
        activity[id] =
            ActivityRow{p[1].asInt(), p[2].asInt(), at, at, p[3].asText(), p[4].asText()};
      } else {
        auto& r = it->second;
        r.orders += p[1].asInt();
        r.spent += p[2].asInt();
        if (at > r.lastAt || (at == r.lastAt && p[4].asText() > r.lastId)) r.lastId = p[4].asText();
        r.lastAt = std::max(r.lastAt, at);
        r.firstAt = std::min(r.firstAt, at);
      }
      a.affected = 1;
    } else if (has(q, "FROM customers_activity WHERE customer_id")) {
      auto it = activity.find(p[0].asText());
      if (it != activity.end()) {
        const auto& r = it->second;
        a.rows.push_back({Value(it->first), Value(static_cast<long long>(r.orders)),
                          Value(static_cast<long long>(r.spent)), Value(r.currency),
                          Value(r.lastId), Value(static_cast<long long>(r.lastAt)),
                          Value(static_cast<long long>(r.firstAt))});
      }
    } else if (has(q, "FROM customers_order_summary WHERE customer_id")) {
      std::vector<std::pair<std::string, const OrderRow*>> hits;
      for (const auto& [id, o] : orders) {
        if (o.created == 1 && !o.customerId.isNull() && o.customerId.asText() == p[0].asText()) {
          hits.emplace_back(id, &o);
        }
      }
      std::sort(hits.begin(), hits.end(), [](const auto& x, const auto& y) {
        const int64_t ax = x.second->createdAt.asInt(), ay = y.second->createdAt.asInt();
        return ax != ay ? ax > ay : x.first > y.first;
      });
      for (const auto& [id, o] : hits) {
        if (static_cast<int64_t>(a.rows.size()) >= p[1].asInt()) break;
        a.rows.push_back({Value(id), o->customerId, Value(static_cast<long long>(o->totalCents)),
                          o->currency, Value(o->status),
                          Value(static_cast<long long>(o->itemCount)), o->address, o->createdAt,
                          o->paymentId, o->paymentStatus, o->processedAt, o->shipmentId,
                          o->tracking, o->estimated, o->delivered, o->reason});
      }
    } else {
      ADD_FAILURE() << "unexpected statement: " << q;
    }
    return a;
  }
};

// ---- event builders ----

const char* kOrder1 = "0198a000-0000-7000-8000-000000000001";
const char* kOrder2 = "0198a000-0000-7000-8000-000000000002";

Json created(const std::string& orderId, const std::string& customer = "cust-1",
             const std::string& at = "2026-01-05T10:00:00Z") {
  return Json{
      {"orderId", orderId},
      {"customerId", customer},
      {"items",
       Json::array(
           {Json{{"productId", "p-1"}, {"quantity", 2}, {"unitPrice", 19.99}, {"lineTotal", 39.98}},
            Json{{"productId", "p-2"},
                 {"quantity", 1},
                 {"unitPrice", 49.99},
                 {"lineTotal", 49.99}}})},
      {"shippingAddress", Json{{"street", "1 Main St"},
                               {"city", "Springfield"},
                               {"state", "IL"},
                               {"zipCode", "62701"},
                               {"country", "US"}}},
      {"totalAmount", 89.97},
      {"currency", "USD"},
      {"paymentMethod", "card"},
      {"customerEmail", "cust-1@example.com"},
      {"customerPhone", "+15005550006"},
      {"createdAt", at}};
}
Json paid(const std::string& orderId) {
  return Json{{"orderId", orderId},      {"paymentId", "pay-1"},
              {"transactionId", "tx-1"}, {"amount", 89.97},
              {"currency", "USD"},       {"paymentMethod", "card"},
              {"status", "Captured"},    {"processedAt", "2026-01-05T10:00:05Z"}};
}
Json shipped(const std::string& orderId) {
  return Json{{"orderId", orderId},
              {"shipmentId", "ship-1"},
              {"carrier", "FedEx"},
              {"trackingNumber", "TRK123"},
              {"labelUrl", "https://labels.example/1"},
              {"shippingCost", 5.99},
              {"estimatedDelivery", "2026-01-08T10:00:10Z"},
              {"createdAt", "2026-01-05T10:00:10Z"}};
}
Json delivered(const std::string& orderId) {
  return Json{{"orderId", orderId},
              {"shipmentId", "ship-1"},
              {"trackingNumber", "TRK123"},
              {"deliveredAt", "2026-01-07T09:30:00Z"}};
}
Json cancelled(const std::string& orderId, const std::string& reason = "Payment declined") {
  return Json{{"orderId", orderId}, {"reason", reason}, {"cancelledAt", "2026-01-05T10:01:00Z"}};
}

class CustomersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_.onSql([this](const Statement& st) { return model_(st); });
    projection_ = host_.create<customers::CustomerProjection>();
    getCustomer_ = host_.create<customers::GetCustomer>();
    getOrders_ = host_.create<customers::GetCustomerOrders>();
  }

  plexus::testing::HandleOutcome send(const std::string& type, const Json& payload,
                                      const std::string& stream = kOrder1) {
    TestMessage m = plexus::testing::message(type, payload, stream);
    m.id = "msg-" + std::to_string(++seq_);
    return host_.handle(*projection_, m);
  }
  void sendOk(const std::string& type, const Json& payload) {
    auto out = send(type, payload, payload.value("orderId", std::string(kOrder1)));
    ASSERT_EQ(out.status, Status::Ok) << type << ": " << out.detail;
  }

  plexus::testing::HttpOutcome customer(const std::string& id) {
    TestRequest rq;
    rq.path = "/api/customers/" + id;
    rq.params = {{"id", id}};
    return host_.request(*getCustomer_, rq);
  }
  plexus::testing::HttpOutcome orders(const std::string& id, const std::string& query = "") {
    TestRequest rq;
    rq.path = "/api/customers/" + id + "/orders";
    rq.params = {{"id", id}};
    rq.query = query;
    return host_.request(*getOrders_, rq);
  }
  Json activity(const std::string& id = "cust-1") {
    auto out = customer(id);
    EXPECT_EQ(out.httpStatus, 200) << out.body;
    return out.json();
  }
  Json summary(const std::string& orderId, const std::string& customerId = "cust-1") {
    auto out = orders(customerId);
    EXPECT_EQ(out.httpStatus, 200) << out.body;
    for (const auto& o : out.json()) {
      if (o["orderId"] == orderId) return o;
    }
    ADD_FAILURE() << "order " << orderId << " not listed: " << out.body;
    return Json();
  }

  FakeHost host_;
  Model model_;
  int seq_ = 0;
  std::unique_ptr<plexus::testing::Instance<customers::CustomerProjection>> projection_;
  std::unique_ptr<plexus::testing::Instance<customers::GetCustomer>> getCustomer_;
  std::unique_ptr<plexus::testing::Instance<customers::GetCustomerOrders>> getOrders_;
};

}  // namespace

// ---- pure helpers ----

TEST(Helpers, ValidIdAcceptsTheOpaqueAlphabetOnly) {
  EXPECT_TRUE(customers::validId("cust-1"));
  EXPECT_TRUE(customers::validId("A.b_c-9"));
  EXPECT_TRUE(customers::validId(std::string(64, 'x')));
  EXPECT_FALSE(customers::validId(""));
  EXPECT_FALSE(customers::validId(std::string(65, 'x')));
  EXPECT_FALSE(customers::validId("a b"));
  EXPECT_FALSE(customers::validId("a/b"));
  EXPECT_FALSE(customers::validId("é"));
}

TEST(Helpers, MoneyToCentsTakesAtMostTwoDecimals) {
  EXPECT_EQ(customers::moneyToCents(Json(89.97)), 8997);
  EXPECT_EQ(customers::moneyToCents(Json(19.99)), 1999);
  // 0.30000000000000004 is not an amount: exact parsing, as everywhere (plexus/sdk/money.hpp).
  EXPECT_FALSE(customers::moneyToCents(Json(0.1 + 0.2)));
  EXPECT_EQ(customers::moneyToCents(Json(5)), 500);
  EXPECT_EQ(customers::moneyToCents(Json(0)), 0);
  EXPECT_FALSE(customers::moneyToCents(Json(1.005)));
  EXPECT_FALSE(customers::moneyToCents(Json(-1.0)));
  EXPECT_FALSE(customers::moneyToCents(Json(-1)));
  EXPECT_FALSE(customers::moneyToCents(Json("1.00")));
  EXPECT_FALSE(customers::moneyToCents(Json(1e300)));
}

TEST(Helpers, StatusPrecedenceCancelledWinsExceptOverDelivered) {
  using customers::deriveStatus;
  using customers::OrderFacts;
  EXPECT_EQ(deriveStatus(OrderFacts{true, false, false, false, false}), "Pending");
  EXPECT_EQ(deriveStatus(OrderFacts{true, true, false, false, false}), "PaymentProcessed");
  EXPECT_EQ(deriveStatus(OrderFacts{true, false, true, false, false}), "Shipped");
  EXPECT_EQ(deriveStatus(OrderFacts{true, true, true, false, false}), "Shipped");
  EXPECT_EQ(deriveStatus(OrderFacts{true, true, true, true, false}), "Delivered");
  EXPECT_EQ(deriveStatus(OrderFacts{true, true, true, false, true}), "Cancelled");
  EXPECT_EQ(deriveStatus(OrderFacts{false, false, false, false, true}), "Cancelled");
  EXPECT_EQ(deriveStatus(OrderFacts{true, true, true, true, true}), "Delivered");
}

TEST(Helpers, CountingRules) {
  using customers::OrderFacts;
  EXPECT_FALSE(customers::countsAsOrder(OrderFacts{false, true, true, true, false}));
  EXPECT_TRUE(customers::countsAsOrder(OrderFacts{true, false, false, false, true}));
  EXPECT_TRUE(customers::countsAsSpent(OrderFacts{true, false, false, false, false}));
  EXPECT_FALSE(customers::countsAsSpent(OrderFacts{true, true, false, false, true}));
  EXPECT_TRUE(customers::countsAsSpent(OrderFacts{true, true, true, true, true}));
  EXPECT_FALSE(customers::countsAsSpent(OrderFacts{false, false, false, false, false}));
}

// ---- projection ----

TEST_F(CustomersTest, HappyPathBuildsTheSummaryStepByStep) {
  sendOk("OrderCreated", created(kOrder1));
  Json s = summary(kOrder1);
  EXPECT_EQ(s["status"], "Pending");
  EXPECT_EQ(s["customerId"], "cust-1");
  EXPECT_EQ(s["totalAmount"].dump(), "89.97");
  EXPECT_EQ(s["currency"], "USD");
  EXPECT_EQ(s["itemCount"], 3);
  EXPECT_EQ(s["shippingAddress"]["zipCode"], "62701");
  EXPECT_EQ(s["createdAt"], "2026-01-05T10:00:00.000Z");
  EXPECT_FALSE(s.contains("paymentInfo"));
  EXPECT_FALSE(s.contains("shipmentInfo"));
  EXPECT_FALSE(s.contains("cancellationReason"));

  sendOk("PaymentProcessed", paid(kOrder1));
  s = summary(kOrder1);
  EXPECT_EQ(s["status"], "PaymentProcessed");
  EXPECT_EQ(s["paymentInfo"], (Json{{"paymentId", "pay-1"},
                                    {"status", "Captured"},
                                    {"processedAt", "2026-01-05T10:00:05.000Z"}}));

  sendOk("ShipmentCreated", shipped(kOrder1));
  s = summary(kOrder1);
  EXPECT_EQ(s["status"], "Shipped");
  EXPECT_EQ(s["shipmentInfo"]["shipmentId"], "ship-1");
  EXPECT_EQ(s["shipmentInfo"]["trackingNumber"], "TRK123");
  EXPECT_EQ(s["shipmentInfo"]["estimatedDelivery"], "2026-01-08T10:00:10.000Z");
  EXPECT_FALSE(s["shipmentInfo"].contains("actualDelivery"));

  sendOk("ShipmentDelivered", delivered(kOrder1));
  s = summary(kOrder1);
  EXPECT_EQ(s["status"], "Delivered");
  EXPECT_EQ(s["shipmentInfo"]["actualDelivery"], "2026-01-07T09:30:00.000Z");

  const Json a = activity();
  EXPECT_EQ(a, (Json{{"customerId", "cust-1"},
                     {"totalOrders", 1},
                     {"totalSpent", 89.97},
                     {"currency", "USD"},
                     {"lastOrderId", kOrder1},
                     {"lastOrderAt", "2026-01-05T10:00:00.000Z"},
                     {"firstOrderAt", "2026-01-05T10:00:00.000Z"}}));
}

TEST_F(CustomersTest, EveryEventTwiceCountsOnce) {
  for (int i = 0; i < 2; ++i) sendOk("OrderCreated", created(kOrder1));
  for (int i = 0; i < 2; ++i) sendOk("PaymentProcessed", paid(kOrder1));
  for (int i = 0; i < 2; ++i) sendOk("ShipmentCreated", shipped(kOrder1));
  const Json a = activity();
  EXPECT_EQ(a["totalOrders"], 1);
  EXPECT_EQ(a["totalSpent"].dump(), "89.97");
  EXPECT_EQ(summary(kOrder1)["status"], "Shipped");
  EXPECT_EQ(orders("cust-1").json().size(), 1u);
}

TEST_F(CustomersTest, TwoOrdersSumAndTrackFirstAndLast) {
  sendOk("OrderCreated", created(kOrder2, "cust-1", "2026-01-06T08:00:00Z"));
  sendOk("OrderCreated", created(kOrder1, "cust-1", "2026-01-05T10:00:00Z"));  // older, later
  const Json a = activity();
  EXPECT_EQ(a["totalOrders"], 2);
  EXPECT_EQ(a["totalSpent"].dump(), "179.94");
  EXPECT_EQ(a["lastOrderId"], kOrder2);
  EXPECT_EQ(a["lastOrderAt"], "2026-01-06T08:00:00.000Z");
  EXPECT_EQ(a["firstOrderAt"], "2026-01-05T10:00:00.000Z");
  const Json list = orders("cust-1").json();
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["orderId"], kOrder2);  // newest first
  EXPECT_EQ(list[1]["orderId"], kOrder1);
}

TEST_F(CustomersTest, CancellationTakesTheOrderOutOfSpentExactlyOnce) {
  sendOk("OrderCreated", created(kOrder1));
  sendOk("OrderCreated", created(kOrder2, "cust-1", "2026-01-06T08:00:00Z"));
  sendOk("OrderCancelled", cancelled(kOrder1));
  sendOk("OrderCancelled", cancelled(kOrder1));  // redelivered
  const Json a = activity();
  EXPECT_EQ(a["totalOrders"], 2);              // cancelled orders still count as placed
  EXPECT_EQ(a["totalSpent"].dump(), "89.97");  // only kOrder2
  const Json s = summary(kOrder1);
  EXPECT_EQ(s["status"], "Cancelled");
  EXPECT_EQ(s["cancellationReason"], "Payment declined");
}

TEST_F(CustomersTest, CancelBeforeCreateIsCountedAsPlacedButNotSpent) {
  sendOk("OrderCancelled", cancelled(kOrder1));
  EXPECT_EQ(customer("cust-1").httpStatus, 404);  // customer unknown until OrderCreated
  sendOk("OrderCreated", created(kOrder1));
  sendOk("OrderCreated", created(kOrder1));
  const Json a = activity();
  EXPECT_EQ(a["totalOrders"], 1);
  EXPECT_EQ(a["totalSpent"], 0);
  EXPECT_EQ(summary(kOrder1)["status"], "Cancelled");
}

TEST_F(CustomersTest, LaterStepsBeforeCreateAreKeptAndShownOnceCreated) {
  sendOk("ShipmentCreated", shipped(kOrder1));
  sendOk("PaymentProcessed", paid(kOrder1));          // arrives after the shipment: stays Shipped
  EXPECT_EQ(orders("cust-1").json(), Json::array());  // not listed before OrderCreated
  sendOk("OrderCreated", created(kOrder1));
  const Json s = summary(kOrder1);
  EXPECT_EQ(s["status"], "Shipped");
  EXPECT_EQ(s["paymentInfo"]["paymentId"], "pay-1");
  EXPECT_EQ(s["shipmentInfo"]["trackingNumber"], "TRK123");
  EXPECT_EQ(activity()["totalSpent"].dump(), "89.97");
}

TEST_F(CustomersTest, DeliveryWinsOverCancellationInEitherOrder) {
  sendOk("OrderCreated", created(kOrder1));
  sendOk("OrderCancelled", cancelled(kOrder1));
  EXPECT_EQ(activity()["totalSpent"], 0);
  sendOk("ShipmentDelivered", delivered(kOrder1));  // delivered anyway: counts again
  Json s = summary(kOrder1);
  EXPECT_EQ(s["status"], "Delivered");
  EXPECT_FALSE(s.contains("cancellationReason"));
  EXPECT_EQ(s["shipmentInfo"]["shipmentId"], "ship-1");  // from the delivery event
  EXPECT_EQ(activity()["totalSpent"].dump(), "89.97");

  sendOk("OrderCreated", created(kOrder2, "cust-1", "2026-01-06T08:00:00Z"));
  sendOk("ShipmentDelivered", delivered(kOrder2));
  sendOk("OrderCancelled", cancelled(kOrder2));
  EXPECT_EQ(summary(kOrder2)["status"], "Delivered");
  EXPECT_EQ(activity()["totalSpent"].dump(), "179.94");
  EXPECT_EQ(activity()["totalOrders"], 2);
}

TEST_F(CustomersTest, CancelledAfterShipmentIsCancelled) {
  sendOk("OrderCreated", created(kOrder1));
  sendOk("PaymentProcessed", paid(kOrder1));
  sendOk("ShipmentCreated", shipped(kOrder1));
  sendOk("OrderCancelled", cancelled(kOrder1, "Customer request"));
  sendOk("ShipmentCreated", shipped(kOrder1));
  const Json s = summary(kOrder1);
  EXPECT_EQ(s["status"], "Cancelled");
  EXPECT_EQ(s["cancellationReason"], "Customer request");
  EXPECT_EQ(activity()["totalSpent"], 0);
}

TEST_F(CustomersTest, OrderIdFallsBackToTheStreamId) {
  Json e = created(kOrder1);
  e.erase("orderId");
  auto out = send("OrderCreated", e, kOrder2);
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(activity()["lastOrderId"], kOrder2);
}

TEST_F(CustomersTest, MissingCreatedAtUsesTheMessageTime) {
  Json e = created(kOrder1);
  e.erase("createdAt");
  TestMessage m = plexus::testing::message("OrderCreated", e, kOrder1);
  m.timestampMs = 1767225600000;
  ASSERT_EQ(host_.handle(*projection_, m).status, Status::Ok);
  EXPECT_EQ(summary(kOrder1)["createdAt"], "2026-01-01T00:00:00.000Z");
}

TEST_F(CustomersTest, TotalFromLinesWhenTotalAmountIsAbsent) {
  Json e = created(kOrder1);
  e.erase("totalAmount");
  e["items"][1].erase("lineTotal");  // falls back to quantity x unitPrice
  sendOk("OrderCreated", e);
  EXPECT_EQ(summary(kOrder1)["totalAmount"].dump(), "89.97");
}

TEST_F(CustomersTest, MalformedEventsAreRejected) {
  struct Case {
    std::string type;
    Json payload;
  };
  Json noCustomer = created(kOrder1);
  noCustomer.erase("customerId");
  Json badCustomer = created(kOrder1, "bad id!");
  Json badTotal = created(kOrder1);
  badTotal["totalAmount"] = 1.005;
  Json negTotal = created(kOrder1);
  negTotal["totalAmount"] = -1;
  Json badQty = created(kOrder1);
  badQty["items"][0]["quantity"] = 0;
  Json badItems = created(kOrder1);
  badItems["items"] = "x";
  Json badTime = created(kOrder1);
  badTime["createdAt"] = "yesterday";
  Json noPayment = paid(kOrder1);
  noPayment.erase("paymentId");
  Json noShipment = shipped(kOrder1);
  noShipment.erase("shipmentId");
  Json badEta = shipped(kOrder1);
  badEta["estimatedDelivery"] = 42;
  Json badOrder = cancelled("has space");
  std::vector<Case> cases{{"OrderCreated", noCustomer},
                          {"OrderCreated", badCustomer},
                          {"OrderCreated", badTotal},
                          {"OrderCreated", negTotal},
                          {"OrderCreated", badQty},
                          {"OrderCreated", badItems},
                          {"OrderCreated", badTime},
                          {"PaymentProcessed", noPayment},
                          {"ShipmentCreated", noShipment},
                          {"ShipmentCreated", badEta},
                          {"OrderCancelled", badOrder},
                          {"OrderCreated", Json::array()},
                          {"SomethingElse", cancelled(kOrder1)}};
  for (const auto& c : cases) {
    auto out = send(c.type, c.payload, "bad stream id");
    EXPECT_EQ(out.status, Status::Reject) << c.type << " " << c.payload.dump();
    EXPECT_FALSE(out.detail.empty());
  }
  EXPECT_TRUE(model_.activity.empty());
}

TEST_F(CustomersTest, DatabaseFailureIsRetried) {
  model_.failAll = true;
  auto out = send("OrderCreated", created(kOrder1));
  EXPECT_EQ(out.status, Status::Retry);
}

TEST_F(CustomersTest, ConcurrentFlagChangeIsRetriedWithoutTouchingTotals) {
  model_.conflictOnFlags = true;
  auto out = send("OrderCreated", created(kOrder1));
  EXPECT_EQ(out.status, Status::Retry);
  EXPECT_TRUE(model_.activity.empty());
  model_.conflictOnFlags = false;
  sendOk("OrderCreated", created(kOrder1));  // redelivery after the retry
  EXPECT_EQ(activity()["totalOrders"], 1);
}

// ---- routes ----

TEST_F(CustomersTest, UnknownCustomerIs404) {
  auto out = customer("nobody");
  EXPECT_EQ(out.httpStatus, 404);
  EXPECT_TRUE(out.json().contains("error"));
}

TEST_F(CustomersTest, InvalidCustomerIdIs400OnBothRoutes) {
  for (const std::string id : {std::string("a b"), std::string(65, 'x'), std::string()}) {
    auto a = customer(id);
    EXPECT_EQ(a.httpStatus, 400) << id;
    EXPECT_TRUE(a.json().contains("error"));
    EXPECT_EQ(orders(id).httpStatus, 400) << id;
  }
}

TEST_F(CustomersTest, OrdersOfAnUnknownCustomerIsAnEmptyArray) {
  auto out = orders("nobody");
  EXPECT_EQ(out.httpStatus, 200);
  EXPECT_EQ(out.json(), Json::array());
}

TEST_F(CustomersTest, OrdersListOnlyThatCustomerAndHonoursLimit) {
  sendOk("OrderCreated", created(kOrder1, "cust-1", "2026-01-05T10:00:00Z"));
  sendOk("OrderCreated", created(kOrder2, "cust-1", "2026-01-06T10:00:00Z"));
  sendOk("OrderCreated", created("0198a000-0000-7000-8000-000000000003", "cust-2"));
  auto out = orders("cust-1", "limit=1");
  ASSERT_EQ(out.httpStatus, 200);
  ASSERT_EQ(out.json().size(), 1u);
  EXPECT_EQ(out.json()[0]["orderId"], kOrder2);
  EXPECT_EQ(orders("cust-2").json().size(), 1u);
  EXPECT_EQ(activity("cust-2")["totalOrders"], 1);
  EXPECT_EQ(activity("cust-1")["totalOrders"], 2);
}

TEST_F(CustomersTest, BadLimitIs400) {
  for (const char* q : {"limit=0", "limit=1001", "limit=abc", "limit=-1", "limit=", "limit=1.5"}) {
    auto out = orders("cust-1", q);
    EXPECT_EQ(out.httpStatus, 400) << q;
    EXPECT_TRUE(out.json().contains("error")) << q;
  }
}

TEST_F(CustomersTest, RouteDatabaseFailureIs503) {
  model_.failAll = true;
  EXPECT_EQ(customer("cust-1").httpStatus, 503);
  EXPECT_EQ(orders("cust-1").httpStatus, 503);
}
