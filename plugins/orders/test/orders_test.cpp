#include "orders.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>

using plexus::Json;
using plexus::Status;
using plexus::Value;
using plexus::testing::FakeHost;
using plexus::testing::HandleOutcome;
using plexus::testing::message;
using plexus::testing::SqlAnswer;
using plexus::testing::Statement;
using plexus::testing::TestRequest;

namespace {

const std::string kOrder1 = "01900000-0000-7000-8000-000000000001";
const std::string kOrder2 = "01900000-0000-7000-8000-000000000002";

bool startsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// A tiny in-memory model of the two tables, answering exactly the statements the plugin runs.
// Unknown statements fail the test.
struct FakeDb {
  struct OrderRow {
    std::string customerId, status, document, reason;
    int64_t totalCents = 0, cancelledAt = 0;
    std::optional<std::string> key;
  };
  struct ViewRow {
    std::optional<std::string> customerId;
    std::string status, document;
    int64_t version = 0;
    int64_t updatedAt = 0;
  };
  std::map<std::string, OrderRow> orders;
  std::map<std::string, ViewRow> views;
  int failWith = 0;           // 0 = none, else a Status to answer every statement with
  bool hideKeyOnce = false;   // the first SELECT by key misses (a concurrent insert)
  bool bumpViewOnce = false;  // the view row changes between SELECT and UPDATE

  static std::optional<std::string> opt(const Value& v) {
    if (v.isNull()) return std::nullopt;
    return v.asText();
  }

  SqlAnswer run(const Statement& st) {
    if (failWith != 0) return SqlAnswer{static_cast<Status>(failWith), {}, 0, "db down"};
    const std::string& q = st.sql;
    const auto& p = st.params;
    SqlAnswer a;
    if (q == "SELECT document FROM orders_orders WHERE idempotency_key = $1") {
      if (hideKeyOnce) {
        hideKeyOnce = false;
        return a;
      }
      for (const auto& [id, o] : orders) {
        if (o.key && *o.key == p[0].asText()) a.rows.push_back({Value(o.document)});
      }
    } else if (q == "SELECT document FROM orders_orders WHERE order_id = $1") {
      if (auto it = orders.find(p[0].asText()); it != orders.end()) {
        a.rows.push_back({Value(it->second.document)});
      }
    } else if (startsWith(q, "INSERT INTO orders_orders")) {
      EXPECT_NE(q.find("ON CONFLICT DO NOTHING"), std::string::npos);
      const std::string id = p[0].asText();
      const auto key = opt(p[6]);
      bool conflict = orders.count(id) > 0;
      for (const auto& [oid, o] : orders) conflict = conflict || (key && o.key == key);
      if (!conflict) {
        OrderRow o;
        o.customerId = p[1].asText();
        o.status = p[2].asText();
        o.totalCents = p[3].asInt();
        o.document = p[5].asText();
        o.key = key;
        orders[id] = o;
        a.affected = 1;
      }
    } else if (startsWith(q, "UPDATE orders_orders SET status = $1")) {
      auto it = orders.find(p[3].asText());
      if (it != orders.end() && it->second.status != p[0].asText()) {
        it->second.status = p[0].asText();
        it->second.reason = p[1].asText();
        it->second.cancelledAt = p[2].asInt();
        a.affected = 1;
      }
    } else if (q == "SELECT status FROM orders_orders WHERE order_id = $1") {
      if (auto it = orders.find(p[0].asText()); it != orders.end()) {
        a.rows.push_back({Value(it->second.status)});
      }
    } else if (q == "SELECT document, version FROM orders_view WHERE order_id = $1") {
      if (auto it = views.find(p[0].asText()); it != views.end()) {
        a.rows.push_back(
            {Value(it->second.document), Value(static_cast<long long>(it->second.version))});
        if (bumpViewOnce) {
          bumpViewOnce = false;
          ++it->second.version;
        }
      }
    } else if (startsWith(q, "INSERT INTO orders_view")) {
      const std::string id = p[0].asText();
      if (!views.count(id)) {
        views[id] = ViewRow{opt(p[1]), p[2].asText(), p[3].asText(), 1, p[4].asInt()};
        a.affected = 1;
      }
    } else if (startsWith(q, "UPDATE orders_view")) {
      auto it = views.find(p[4].asText());
      if (it != views.end() && it->second.version == p[5].asInt()) {
        it->second =
            ViewRow{opt(p[0]), p[1].asText(), p[2].asText(), it->second.version + 1, p[3].asInt()};
        a.affected = 1;
      }
    } else if (q == "SELECT document FROM orders_view WHERE order_id = $1") {
      if (auto it = views.find(p[0].asText()); it != views.end()) {
        a.rows.push_back({Value(it->second.document)});
      }
    } else {
      ADD_FAILURE() << "unexpected SQL: " << q;
    }
    return a;
  }
};

Json validBody() {
  return Json{{"customerId", "cust-1"},
              {"items",
               Json::array({Json{{"productId", "prod-a"}, {"quantity", 2}, {"unitPrice", 19.99}},
                            Json{{"productId", "prod-b"}, {"quantity", 1}, {"unitPrice", 49.99}}})},
              {"shippingAddress", Json{{"street", "1 Main St"},
                                       {"city", "Springfield"},
                                       {"state", "IL"},
                                       {"zipCode", "62701"},
                                       {"country", "US"}}}};
}

Json withOrderId(Json body, const std::string& id) {
  body["orderId"] = id;
  return body;
}

// A FakeHost with the in-memory tables and every component of the plugin.
struct Fixture {
  FakeHost host;
  FakeDb db;
  std::unique_ptr<plexus::testing::Instance<orders::CreateOrder>> create =
      host.create<orders::CreateOrder>();
  std::unique_ptr<plexus::testing::Instance<orders::CancelOrder>> cancel =
      host.create<orders::CancelOrder>();
  std::unique_ptr<plexus::testing::Instance<orders::OrderView>> view =
      host.create<orders::OrderView>();
  std::unique_ptr<plexus::testing::Instance<orders::PostOrder>> post =
      host.create<orders::PostOrder>();
  std::unique_ptr<plexus::testing::Instance<orders::GetOrder>> get =
      host.create<orders::GetOrder>();

  Fixture() {
    host.onSql([this](const Statement& st) { return db.run(st); });
    // The real host runs the local receptor inside the route's call: do the same.
    host.onInvoke([this](const std::string& type, const Json& payload) {
      EXPECT_EQ(type, "CreateOrder");
      const size_t before = host.emitted().size();
      auto out = host.handle(*create, message(type, payload, payload.value("orderId", "")));
      return projectInline(HandleOutcome{out.status, out.detail}, before);
    });
  }

  // OrderView is an inline perspective: the host projects what a receptor emitted in the
  // receptor's transaction, and its failure is the receptor's. The fake host does not, so do it.
  HandleOutcome projectInline(HandleOutcome out, size_t before) {
    if (out.status != Status::Ok) return out;
    const std::vector<plexus::testing::Outgoing> emitted = host.emitted();
    for (size_t i = before; i < emitted.size(); ++i) {
      auto v = host.handle(*view, message(emitted[i].type, emitted[i].payload, emitted[i].stream));
      if (v.status != Status::Ok) return v;
    }
    return out;
  }

  HandleOutcome createOrder(const Json& body, const std::string& id = kOrder1) {
    const size_t before = host.emitted().size();
    return projectInline(host.handle(*create, message("CreateOrder", withOrderId(body, id), id)),
                         before);
  }
  HandleOutcome event(const std::string& type, const Json& payload,
                      const std::string& stream = kOrder1) {
    return host.handle(*view, message(type, payload, stream));
  }
  plexus::testing::HttpOutcome postOrder(const std::string& body,
                                         std::map<std::string, std::string> headers = {}) {
    TestRequest rq;
    rq.method = "POST";
    rq.path = "/api/orders";
    rq.body = body;
    rq.headers = std::move(headers);
    return host.request(*post, rq);
  }
  plexus::testing::HttpOutcome getOrder(const std::string& id) {
    TestRequest rq;
    rq.path = "/api/orders/" + id;
    rq.params = {{"id", id}};
    return host.request(*get, rq);
  }
  size_t emittedOf(const std::string& type) const {
    return static_cast<size_t>(std::count_if(host.emitted().begin(), host.emitted().end(),
                                             [&](const auto& o) { return o.type == type; }));
  }
};

std::string repeat(char c, size_t n) { return std::string(n, c); }

}  // namespace

// ---------------------------------------------------------------- pure helpers

TEST(Money, ParsesExactCents) {
  EXPECT_EQ(orders::parseMoneyCents(Json(19.99), "p", 1000000), 1999);
  EXPECT_EQ(orders::parseMoneyCents(Json(49.99), "p", 1000000), 4999);
  EXPECT_EQ(orders::parseMoneyCents(Json(0.01), "p", 1000000), 1);
  EXPECT_EQ(orders::parseMoneyCents(Json(0.1), "p", 1000000), 10);
  EXPECT_EQ(orders::parseMoneyCents(Json(1.10), "p", 1000000), 110);
  EXPECT_EQ(orders::parseMoneyCents(Json(0), "p", 1000000), 0);
  EXPECT_EQ(orders::parseMoneyCents(Json(0.0), "p", 1000000), 0);
  EXPECT_EQ(orders::parseMoneyCents(Json(5), "p", 1000000), 500);
  EXPECT_EQ(orders::parseMoneyCents(Json(5u), "p", 1000000), 500);
  EXPECT_EQ(orders::parseMoneyCents(Json::parse("1e2"), "p", 1000000), 10000);
  EXPECT_EQ(orders::parseMoneyCents(Json::parse("1.5e1"), "p", 1000000), 1500);
  EXPECT_EQ(orders::parseMoneyCents(Json::parse("12345678.91"), "p", 10000000000LL), 1234567891);
}

TEST(Money, RejectsBadAmounts) {
  for (const char* text : {"19.999", "0.001", "-1", "-0.01", "\"19.99\"", "true", "null", "[]",
                           "1e-3", "1e30", "100000000.01"}) {
    EXPECT_THROW(orders::parseMoneyCents(Json::parse(text), "p", 10000000000LL), plexus::BadRequest)
        << text;
  }
  try {
    orders::parseMoneyCents(Json(-1), "items[0].unitPrice", 100);
    FAIL();
  } catch (const plexus::BadRequest& e) {
    EXPECT_STREQ(e.what(), "items[0].unitPrice must be >= 0");
  }
}

TEST(Money, PrintsWhatItParses) {
  for (int64_t c = 0; c < 20000; ++c) {
    ASSERT_EQ(orders::parseMoneyCents(plexus::money::toJson(c), "p", 1LL << 40), c);
  }
}

TEST(Ids, ExternalIdsUuidsAndCurrencies) {
  EXPECT_TRUE(orders::isValidExternalId("cust-1"));
  EXPECT_TRUE(orders::isValidExternalId("A.b_c-9"));
  EXPECT_TRUE(orders::isValidExternalId(repeat('x', 64)));
  EXPECT_FALSE(orders::isValidExternalId(repeat('x', 65)));
  EXPECT_FALSE(orders::isValidExternalId(""));
  EXPECT_FALSE(orders::isValidExternalId("a b"));
  EXPECT_FALSE(orders::isValidExternalId("a/b"));
  EXPECT_FALSE(orders::isValidExternalId("caf\xc3\xa9"));
  EXPECT_TRUE(orders::isCurrencyCode("USD"));
  EXPECT_TRUE(orders::isCurrencyCode("EUR"));
  EXPECT_FALSE(orders::isCurrencyCode("usd"));
  EXPECT_FALSE(orders::isCurrencyCode("US"));
  EXPECT_FALSE(orders::isCurrencyCode("USDX"));
}

TEST(Validate, WorkedExampleAndDefaults) {
  const orders::OrderRequest r = orders::validateCreateOrder(validBody());
  EXPECT_EQ(r.totalCents, 8997);
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].lineTotalCents, 3998);
  EXPECT_EQ(r.items[1].lineTotalCents, 4999);
  EXPECT_EQ(r.currency, "USD");
  EXPECT_EQ(r.paymentMethod, "card");
  EXPECT_EQ(r.customerEmail, "cust-1@example.com");
  EXPECT_EQ(r.customerPhone, "+15555550100");
  EXPECT_EQ(r.idempotencyKey, "");
}

TEST(Validate, TakesGivenOptionalFields) {
  Json b = validBody();
  b["currency"] = "EUR";
  b["paymentMethod"] = "pm_card_declined";
  b["customerEmail"] = "ada@example.org";
  b["customerPhone"] = "+44 20 7946 0000";
  b["idempotencyKey"] = repeat('k', 128);
  const orders::OrderRequest r = orders::validateCreateOrder(b);
  EXPECT_EQ(r.currency, "EUR");
  EXPECT_EQ(r.paymentMethod, "pm_card_declined");
  EXPECT_EQ(r.customerEmail, "ada@example.org");
  EXPECT_EQ(r.customerPhone, "+44 20 7946 0000");
  EXPECT_EQ(r.idempotencyKey, repeat('k', 128));
  // null optional fields take the defaults
  b["currency"] = nullptr;
  EXPECT_EQ(orders::validateCreateOrder(b).currency, "USD");
  // unitPrice 0 (a free item) is allowed
  b["items"][0]["unitPrice"] = 0;
  EXPECT_EQ(orders::validateCreateOrder(b).totalCents, 4999);
}

struct BadCase {
  const char* name;
  std::function<void(Json&)> mutate;
  const char* error;
};

TEST(Validate, RejectsEveryRuleWithAClearMessage) {
  const std::vector<BadCase> cases = {
      {"not an object", [](Json& b) { b = Json::array(); }, "request body must be a JSON object"},
      {"missing customerId", [](Json& b) { b.erase("customerId"); }, "customerId is required"},
      {"null customerId", [](Json& b) { b["customerId"] = nullptr; }, "customerId is required"},
      {"numeric customerId", [](Json& b) { b["customerId"] = 7; }, "customerId must be a string"},
      {"empty customerId", [](Json& b) { b["customerId"] = ""; },
       "customerId must be 1-64 characters of [A-Za-z0-9._-]"},
      {"long customerId", [](Json& b) { b["customerId"] = repeat('c', 65); },
       "customerId must be 1-64 characters of [A-Za-z0-9._-]"},
      {"missing items", [](Json& b) { b.erase("items"); }, "items is required"},
      {"items not array", [](Json& b) { b["items"] = Json::object(); }, "items must be an array"},
      {"no items", [](Json& b) { b["items"] = Json::array(); }, "items must not be empty"},
      {"too many items",
       [](Json& b) {
         Json items = Json::array();
         for (int i = 0; i < 101; ++i) items.push_back(b["items"][0]);
         b["items"] = items;
       },
       "items must have at most 100 lines"},
      {"item not object", [](Json& b) { b["items"][1] = 5; }, "items[1] must be an object"},
      {"missing productId", [](Json& b) { b["items"][0].erase("productId"); },
       "items[0].productId is required"},
      {"numeric productId", [](Json& b) { b["items"][0]["productId"] = 1; },
       "items[0].productId must be a string"},
      {"bad productId", [](Json& b) { b["items"][0]["productId"] = "a b"; },
       "items[0].productId must be 1-64 characters of [A-Za-z0-9._-]"},
      {"missing quantity", [](Json& b) { b["items"][0].erase("quantity"); },
       "items[0].quantity is required"},
      {"zero quantity", [](Json& b) { b["items"][0]["quantity"] = 0; },
       "items[0].quantity must be >= 1"},
      {"negative quantity", [](Json& b) { b["items"][1]["quantity"] = -3; },
       "items[1].quantity must be >= 1"},
      {"fractional quantity", [](Json& b) { b["items"][0]["quantity"] = 1.5; },
       "items[0].quantity must be an integer"},
      {"string quantity", [](Json& b) { b["items"][0]["quantity"] = "2"; },
       "items[0].quantity must be an integer"},
      {"bool quantity", [](Json& b) { b["items"][0]["quantity"] = true; },
       "items[0].quantity must be an integer"},
      {"huge quantity", [](Json& b) { b["items"][0]["quantity"] = 1000001; },
       "items[0].quantity must be at most 1000000"},
      {"huge unsigned quantity",
       [](Json& b) { b["items"][0]["quantity"] = 18446744073709551615ull; },
       "items[0].quantity must be at most 1000000"},
      {"missing unitPrice", [](Json& b) { b["items"][0].erase("unitPrice"); },
       "items[0].unitPrice is required"},
      {"negative price", [](Json& b) { b["items"][0]["unitPrice"] = -0.01; },
       "items[0].unitPrice must be >= 0"},
      {"three decimals", [](Json& b) { b["items"][0]["unitPrice"] = 1.999; },
       "items[0].unitPrice must have at most 2 decimals"},
      {"string price", [](Json& b) { b["items"][0]["unitPrice"] = "19.99"; },
       "items[0].unitPrice must be a number"},
      {"missing address", [](Json& b) { b.erase("shippingAddress"); },
       "shippingAddress is required"},
      {"address not object", [](Json& b) { b["shippingAddress"] = "1 Main St"; },
       "shippingAddress must be an object"},
      {"missing street", [](Json& b) { b["shippingAddress"].erase("street"); },
       "shippingAddress.street is required"},
      {"empty city", [](Json& b) { b["shippingAddress"]["city"] = ""; },
       "shippingAddress.city must not be empty"},
      {"blank state", [](Json& b) { b["shippingAddress"]["state"] = "   "; },
       "shippingAddress.state must not be empty"},
      {"numeric zip", [](Json& b) { b["shippingAddress"]["zipCode"] = 62701; },
       "shippingAddress.zipCode must be a string"},
      {"missing country", [](Json& b) { b["shippingAddress"].erase("country"); },
       "shippingAddress.country is required"},
      {"long street", [](Json& b) { b["shippingAddress"]["street"] = repeat('s', 201); },
       "shippingAddress.street must be at most 200 characters"},
      {"lowercase currency", [](Json& b) { b["currency"] = "usd"; },
       "currency must be an ISO 4217 code of 3 uppercase letters"},
      {"numeric currency", [](Json& b) { b["currency"] = 840; }, "currency must be a string"},
      {"bad paymentMethod", [](Json& b) { b["paymentMethod"] = ""; },
       "paymentMethod must be 1-64 characters of [A-Za-z0-9._-]"},
      {"bad email", [](Json& b) { b["customerEmail"] = "not-an-email"; },
       "customerEmail must be an email address"},
      {"bad phone", [](Json& b) { b["customerPhone"] = "call me"; },
       "customerPhone must be a phone number"},
      {"empty key", [](Json& b) { b["idempotencyKey"] = ""; },
       "idempotencyKey must be 1-128 characters"},
      {"long key", [](Json& b) { b["idempotencyKey"] = repeat('k', 129); },
       "idempotencyKey must be 1-128 characters"},
      {"numeric key", [](Json& b) { b["idempotencyKey"] = 5; }, "idempotencyKey must be a string"},
  };
  for (const auto& c : cases) {
    Json b = validBody();
    c.mutate(b);
    try {
      orders::validateCreateOrder(b);
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const plexus::BadRequest& e) {
      EXPECT_EQ(std::string(e.what()), c.error) << c.name;
    }
  }
}

TEST(Validate, BuildsTheOrderCreatedEvent) {
  const Json e =
      orders::buildOrderCreated(orders::validateCreateOrder(validBody()), kOrder1, 1767225600000);
  EXPECT_EQ(e["orderId"], kOrder1);
  EXPECT_EQ(e["customerId"], "cust-1");
  EXPECT_EQ(e["totalAmount"].dump(), "89.97");
  EXPECT_EQ(e["currency"], "USD");
  EXPECT_EQ(e["paymentMethod"], "card");
  EXPECT_EQ(e["customerEmail"], "cust-1@example.com");
  EXPECT_EQ(e["customerPhone"], "+15555550100");
  EXPECT_EQ(e["createdAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(e["items"][0].dump(),
            R"({"lineTotal":39.98,"productId":"prod-a","quantity":2,"unitPrice":19.99})");
  EXPECT_EQ(e["items"][1]["lineTotal"].dump(), "49.99");
  EXPECT_EQ(e["shippingAddress"], validBody()["shippingAddress"]);
  EXPECT_EQ(e.size(), 10u);
}

// ---------------------------------------------------------------- CreateOrder

TEST(CreateOrder, StoresEmitsAndCountsAfterCommit) {
  Fixture f;
  auto out = f.createOrder(validBody());
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  const Json result = Json::parse(out.detail);
  EXPECT_EQ(result["orderId"], kOrder1);
  EXPECT_EQ(result["totalAmount"].dump(), "89.97");
  EXPECT_FALSE(result.contains("idempotentReplay"));
  ASSERT_EQ(f.host.emitted().size(), 1u);
  EXPECT_EQ(f.host.emitted()[0].type, "OrderCreated");
  EXPECT_EQ(f.host.emitted()[0].stream, kOrder1);
  EXPECT_EQ(f.host.emitted()[0].payload, result);
  ASSERT_EQ(f.db.orders.count(kOrder1), 1u);
  EXPECT_EQ(f.db.orders[kOrder1].totalCents, 8997);
  EXPECT_EQ(f.db.orders[kOrder1].status, "Pending");
  EXPECT_EQ(Json::parse(f.db.orders[kOrder1].document), result);
  EXPECT_FALSE(f.db.orders[kOrder1].key.has_value());
  // the initial Pending summary, projected inline (as the host does) from the emitted event
  ASSERT_EQ(f.db.views.count(kOrder1), 1u);
  EXPECT_EQ(f.db.views[kOrder1].status, "Pending");
  EXPECT_EQ(f.host.metric("orders_created_total"), 1.0);
}

TEST(CreateOrder, SameIdempotencyKeyGivesTheSameOrderOnce) {
  Fixture f;
  Json b = validBody();
  b["idempotencyKey"] = "key-1";
  auto first = f.createOrder(b, kOrder1);
  ASSERT_EQ(first.status, Status::Ok) << first.detail;
  auto second = f.createOrder(b, kOrder2);
  ASSERT_EQ(second.status, Status::Ok) << second.detail;
  Json again = Json::parse(second.detail);
  EXPECT_EQ(again["idempotentReplay"], true);
  again.erase("idempotentReplay");
  EXPECT_EQ(again, Json::parse(first.detail));
  EXPECT_EQ(f.db.orders.size(), 1u);
  EXPECT_EQ(f.emittedOf("OrderCreated"), 1u);
  EXPECT_EQ(f.host.metric("orders_created_total"), 1.0);
}

TEST(CreateOrder, RedeliveredCommandCreatesNothingNew) {
  Fixture f;
  ASSERT_EQ(f.createOrder(validBody()).status, Status::Ok);
  auto again = f.createOrder(validBody());
  ASSERT_EQ(again.status, Status::Ok);
  EXPECT_EQ(Json::parse(again.detail)["idempotentReplay"], true);
  EXPECT_EQ(f.db.orders.size(), 1u);
  EXPECT_EQ(f.emittedOf("OrderCreated"), 1u);
  EXPECT_EQ(f.host.metric("orders_created_total"), 1.0);
}

TEST(CreateOrder, DifferentKeysMakeDifferentOrders) {
  Fixture f;
  Json b = validBody();
  b["idempotencyKey"] = "key-1";
  ASSERT_EQ(f.createOrder(b, kOrder1).status, Status::Ok);
  b["idempotencyKey"] = "key-2";
  ASSERT_EQ(f.createOrder(b, kOrder2).status, Status::Ok);
  EXPECT_EQ(f.db.orders.size(), 2u);
  EXPECT_EQ(f.host.metric("orders_created_total"), 2.0);
}

TEST(CreateOrder, ConcurrentInsertWithTheSameKeyAnswersTheWinner) {
  Fixture f;
  Json b = validBody();
  b["idempotencyKey"] = "key-1";
  ASSERT_EQ(f.createOrder(b, kOrder1).status, Status::Ok);
  f.db.hideKeyOnce = true;  // our SELECT misses the row, the INSERT then conflicts
  auto out = f.createOrder(b, kOrder2);
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(Json::parse(out.detail)["orderId"], kOrder1);
  EXPECT_EQ(Json::parse(out.detail)["idempotentReplay"], true);
  EXPECT_EQ(f.emittedOf("OrderCreated"), 1u);
  EXPECT_EQ(f.host.metric("orders_created_total"), 1.0);
}

TEST(CreateOrder, RejectsInvalidInputAndDoesNothing) {
  Fixture f;
  Json b = validBody();
  b["items"] = Json::array();
  auto out = f.createOrder(b);
  EXPECT_EQ(out.status, Status::Reject);
  EXPECT_EQ(out.detail, "items must not be empty");
  EXPECT_TRUE(f.host.emitted().empty());
  EXPECT_TRUE(f.db.orders.empty());
  EXPECT_EQ(f.host.metric("orders_created_total"), 0.0);
}

TEST(CreateOrder, RejectsBadOrMismatchedOrderIds) {
  Fixture f;
  // payload id differs from the stream
  auto out =
      f.host.handle(*f.create, message("CreateOrder", withOrderId(validBody(), kOrder1), kOrder2));
  EXPECT_EQ(out.status, Status::Reject);
  // not a UUID
  out = f.host.handle(*f.create,
                      message("CreateOrder", withOrderId(validBody(), "order-1"), "order-1"));
  EXPECT_EQ(out.status, Status::Reject);
  EXPECT_EQ(out.detail, "orderId must be a UUID");
  // no id at all
  out = f.host.handle(*f.create, message("CreateOrder", validBody(), ""));
  EXPECT_EQ(out.status, Status::Reject);
  // not an object
  out = f.host.handle(*f.create, message("CreateOrder", Json::array(), kOrder1));
  EXPECT_EQ(out.status, Status::Reject);
  // the stream alone is enough
  out = f.host.handle(*f.create, message("CreateOrder", validBody(), kOrder1));
  EXPECT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(f.emittedOf("OrderCreated"), 1u);
}

TEST(CreateOrder, TransientDatabaseFailureRetriesWithoutEffects) {
  Fixture f;
  f.db.failWith = static_cast<int>(Status::Retry);
  auto out = f.createOrder(validBody());
  EXPECT_EQ(out.status, Status::Retry);
  EXPECT_TRUE(f.host.emitted().empty());
  EXPECT_EQ(f.host.metric("orders_created_total"), 0.0);
}

// ---------------------------------------------------------------- CancelOrder

TEST(CancelOrder, CancelsOnceAndEmitsOnce) {
  Fixture f;
  ASSERT_EQ(f.createOrder(validBody()).status, Status::Ok);
  f.host.setNowMs(1767225660000);
  auto out = f.host.handle(
      *f.cancel,
      message("CancelOrder", Json{{"orderId", kOrder1}, {"reason", "Insufficient inventory"}},
              kOrder1));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(Json::parse(out.detail)["alreadyCancelled"], false);
  EXPECT_EQ(f.db.orders[kOrder1].status, "Cancelled");
  EXPECT_EQ(f.db.orders[kOrder1].reason, "Insufficient inventory");
  ASSERT_EQ(f.emittedOf("OrderCancelled"), 1u);
  const auto& e = f.host.emitted().back();
  EXPECT_EQ(e.stream, kOrder1);
  EXPECT_EQ(e.payload, (Json{{"orderId", kOrder1},
                             {"reason", "Insufficient inventory"},
                             {"cancelledAt", "2026-01-01T00:01:00.000Z"}}));

  // again (redelivery or a second compensation): OK, no second event
  out = f.host.handle(
      *f.cancel, message("CancelOrder", Json{{"orderId", kOrder1}, {"reason", "again"}}, kOrder1));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(Json::parse(out.detail)["alreadyCancelled"], true);
  EXPECT_EQ(f.emittedOf("OrderCancelled"), 1u);
  EXPECT_EQ(f.db.orders[kOrder1].reason, "Insufficient inventory");
}

TEST(CancelOrder, UnknownOrderIsRejected) {
  Fixture f;
  auto out = f.host.handle(
      *f.cancel, message("CancelOrder", Json{{"orderId", kOrder2}, {"reason", "x"}}, kOrder2));
  EXPECT_EQ(out.status, Status::Reject);
  EXPECT_EQ(out.detail, "unknown order " + kOrder2);
  EXPECT_EQ(f.emittedOf("OrderCancelled"), 0u);
}

TEST(CancelOrder, ValidatesThePayload) {
  Fixture f;
  ASSERT_EQ(f.createOrder(validBody()).status, Status::Ok);
  auto out = f.host.handle(
      *f.cancel, message("CancelOrder", Json{{"orderId", kOrder1}, {"reason", 5}}, kOrder1));
  EXPECT_EQ(out.status, Status::Reject);
  out = f.host.handle(*f.cancel, message("CancelOrder", Json{{"orderId", kOrder1}}, kOrder2));
  EXPECT_EQ(out.status, Status::Reject);  // payload id and stream disagree
  EXPECT_EQ(f.emittedOf("OrderCancelled"), 0u);
  // a missing reason gets a default
  out = f.host.handle(*f.cancel, message("CancelOrder", Json{{"orderId", kOrder1}}, kOrder1));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(f.host.emitted().back().payload["reason"], "No reason given");
}

TEST(CancelOrder, TransientDatabaseFailureRetries) {
  Fixture f;
  ASSERT_EQ(f.createOrder(validBody()).status, Status::Ok);
  f.db.failWith = static_cast<int>(Status::Retry);
  auto out = f.host.handle(
      *f.cancel, message("CancelOrder", Json{{"orderId", kOrder1}, {"reason", "x"}}, kOrder1));
  EXPECT_EQ(out.status, Status::Retry);
  EXPECT_EQ(f.emittedOf("OrderCancelled"), 0u);
}

// ---------------------------------------------------------------- OrderView

namespace {
Json orderCreatedEvent() {
  return orders::buildOrderCreated(orders::validateCreateOrder(validBody()), kOrder1,
                                   1767225600000);
}
const Json kPaid{{"orderId", kOrder1},      {"paymentId", "pay-1"},
                 {"transactionId", "tx-1"}, {"amount", 89.97},
                 {"currency", "USD"},       {"paymentMethod", "card"},
                 {"status", "Captured"},    {"processedAt", "2026-01-01T00:00:05.000Z"}};
const Json kShipped{{"orderId", kOrder1},
                    {"shipmentId", "ship-1"},
                    {"carrier", "FedEx"},
                    {"trackingNumber", "TRK1"},
                    {"labelUrl", "https://x/l.pdf"},
                    {"shippingCost", 5.99},
                    {"estimatedDelivery", "2026-01-04T00:00:00.000Z"},
                    {"createdAt", "2026-01-01T00:00:10.000Z"}};
const Json kDelivered{{"orderId", kOrder1},
                      {"shipmentId", "ship-1"},
                      {"trackingNumber", "TRK1"},
                      {"deliveredAt", "2026-01-03T12:00:00.000Z"}};
const Json kCancelled{{"orderId", kOrder1},
                      {"reason", "Payment failed"},
                      {"cancelledAt", "2026-01-01T00:00:06.000Z"}};
}  // namespace

TEST(OrderView, ProjectsTheHappyPath) {
  Fixture f;
  ASSERT_EQ(f.event("OrderCreated", orderCreatedEvent()).status, Status::Ok);
  EXPECT_EQ(f.db.views[kOrder1].status, "Pending");
  EXPECT_EQ(f.db.views[kOrder1].customerId, std::optional<std::string>("cust-1"));
  ASSERT_EQ(f.event("PaymentProcessed", kPaid).status, Status::Ok);
  EXPECT_EQ(f.db.views[kOrder1].status, "PaymentProcessed");
  ASSERT_EQ(f.event("ShipmentCreated", kShipped).status, Status::Ok);
  EXPECT_EQ(f.db.views[kOrder1].status, "Shipped");

  auto got = f.getOrder(kOrder1);
  ASSERT_EQ(got.httpStatus, 200) << got.body;
  const Json s = got.json();
  EXPECT_EQ(s["orderId"], kOrder1);
  EXPECT_EQ(s["customerId"], "cust-1");
  EXPECT_EQ(s["totalAmount"].dump(), "89.97");
  EXPECT_EQ(s["status"], "Shipped");
  EXPECT_EQ(s["itemCount"], 3);
  EXPECT_EQ(s["shippingAddress"], validBody()["shippingAddress"]);
  EXPECT_EQ(s["createdAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(s["paymentInfo"], (Json{{"paymentId", "pay-1"},
                                    {"status", "Captured"},
                                    {"processedAt", "2026-01-01T00:00:05.000Z"}}));
  EXPECT_EQ(s["shipmentInfo"], (Json{{"shipmentId", "ship-1"},
                                     {"trackingNumber", "TRK1"},
                                     {"estimatedDelivery", "2026-01-04T00:00:00.000Z"}}));
  EXPECT_FALSE(s.contains("cancellationReason"));

  ASSERT_EQ(f.event("ShipmentDelivered", kDelivered).status, Status::Ok);
  const Json d = f.getOrder(kOrder1).json();
  EXPECT_EQ(d["status"], "Delivered");
  EXPECT_EQ(d["shipmentInfo"]["actualDelivery"], "2026-01-03T12:00:00.000Z");
}

// A rebuild replays the same events later: the row must not depend on when it was projected.
TEST(OrderView, UpdatedAtIsTheEventsTimeNotTheClocks) {
  Fixture f;
  auto created = plexus::testing::message("OrderCreated", orderCreatedEvent(), kOrder1);
  created.timestampMs = 1767225601000;
  ASSERT_EQ(f.host.handle(*f.view, created).status, Status::Ok);
  EXPECT_EQ(f.db.views[kOrder1].updatedAt, 1767225601000);
  auto paid = plexus::testing::message("PaymentProcessed", kPaid, kOrder1);
  paid.timestampMs = 1767225605000;
  ASSERT_EQ(f.host.handle(*f.view, paid).status, Status::Ok);
  EXPECT_EQ(f.db.views[kOrder1].updatedAt, 1767225605000);
}

TEST(OrderView, EventBeforeOrderCreatedMakesAPartialRowThatOrderCreatedCompletes) {
  Fixture f;
  ASSERT_EQ(f.event("ShipmentCreated", kShipped).status, Status::Ok);
  ASSERT_EQ(f.db.views.count(kOrder1), 1u);
  EXPECT_FALSE(f.db.views[kOrder1].customerId.has_value());
  EXPECT_EQ(f.getOrder(kOrder1).httpStatus, 404);  // not a known order yet
  ASSERT_EQ(f.event("PaymentProcessed", kPaid).status, Status::Ok);
  ASSERT_EQ(f.event("OrderCreated", orderCreatedEvent()).status, Status::Ok);
  const Json s = f.getOrder(kOrder1).json();
  EXPECT_EQ(s["status"], "Shipped");  // not set back to Pending / PaymentProcessed
  EXPECT_EQ(s["customerId"], "cust-1");
  EXPECT_EQ(s["paymentInfo"]["paymentId"], "pay-1");
  EXPECT_EQ(s["shipmentInfo"]["trackingNumber"], "TRK1");
}

TEST(OrderView, DuplicateEventsChangeNothing) {
  Fixture f;
  ASSERT_EQ(f.event("OrderCreated", orderCreatedEvent()).status, Status::Ok);
  ASSERT_EQ(f.event("PaymentProcessed", kPaid).status, Status::Ok);
  const auto before = f.db.views[kOrder1];
  f.host.clearOutgoing();
  ASSERT_EQ(f.event("PaymentProcessed", kPaid).status, Status::Ok);
  ASSERT_EQ(f.event("OrderCreated", orderCreatedEvent()).status, Status::Ok);
  EXPECT_EQ(f.db.views[kOrder1].version, before.version);
  EXPECT_EQ(f.db.views[kOrder1].document, before.document);
  for (const auto& st : f.host.statements()) EXPECT_FALSE(startsWith(st.sql, "UPDATE")) << st.sql;
}

TEST(OrderView, CancelledWinsOverAllButDelivered) {
  {
    Fixture f;  // cancelled after shipping (compensation) -> Cancelled
    f.event("OrderCreated", orderCreatedEvent());
    f.event("PaymentProcessed", kPaid);
    f.event("ShipmentCreated", kShipped);
    f.event("OrderCancelled", kCancelled);
    const Json s = f.getOrder(kOrder1).json();
    EXPECT_EQ(s["status"], "Cancelled");
    EXPECT_EQ(s["cancellationReason"], "Payment failed");
  }
  {
    Fixture f;  // a late PaymentProcessed does not resurrect a cancelled order
    f.event("OrderCreated", orderCreatedEvent());
    f.event("OrderCancelled", kCancelled);
    f.event("PaymentProcessed", kPaid);
    EXPECT_EQ(f.getOrder(kOrder1).json()["status"], "Cancelled");
  }
  {
    Fixture f;  // delivered stays delivered, whatever the order
    f.event("OrderCreated", orderCreatedEvent());
    f.event("ShipmentDelivered", kDelivered);
    f.event("OrderCancelled", kCancelled);
    const Json s = f.getOrder(kOrder1).json();
    EXPECT_EQ(s["status"], "Delivered");
    EXPECT_EQ(s["cancellationReason"], "Payment failed");
  }
}

TEST(OrderView, DeliveredBeforeCreatedShipmentMergesTheShipmentInfo) {
  Fixture f;
  f.event("OrderCreated", orderCreatedEvent());
  f.event("ShipmentDelivered", kDelivered);
  Json s = f.getOrder(kOrder1).json();
  EXPECT_EQ(s["status"], "Delivered");
  EXPECT_TRUE(s["shipmentInfo"]["estimatedDelivery"].is_null());
  f.event("ShipmentCreated", kShipped);
  s = f.getOrder(kOrder1).json();
  EXPECT_EQ(s["status"], "Delivered");
  EXPECT_EQ(s["shipmentInfo"], (Json{{"shipmentId", "ship-1"},
                                     {"trackingNumber", "TRK1"},
                                     {"estimatedDelivery", "2026-01-04T00:00:00.000Z"},
                                     {"actualDelivery", "2026-01-03T12:00:00.000Z"}}));
}

TEST(OrderView, EveryArrivalOrderGivesTheSameSummary) {
  const std::vector<std::pair<std::string, Json>> events = {{"OrderCreated", orderCreatedEvent()},
                                                            {"PaymentProcessed", kPaid},
                                                            {"ShipmentCreated", kShipped},
                                                            {"ShipmentDelivered", kDelivered},
                                                            {"OrderCancelled", kCancelled}};
  std::vector<size_t> idx = {0, 1, 2, 3, 4};
  std::optional<Json> expected;
  int permutations = 0;
  do {
    Json state = Json::object();
    for (size_t i : idx) {
      orders::applyViewEvent(state, events[i].first, events[i].second);
      orders::applyViewEvent(state, events[i].first, events[i].second);  // and twice
    }
    const Json s = orders::viewSummary(kOrder1, state);
    if (!expected) expected = s;
    ASSERT_EQ(s, *expected) << "permutation " << permutations;
    ++permutations;
  } while (std::next_permutation(idx.begin(), idx.end()));
  EXPECT_EQ(permutations, 120);
  EXPECT_EQ((*expected)["status"], "Delivered");
}

TEST(OrderView, StatusPrecedence) {
  Json st = Json::object();
  EXPECT_EQ(orders::viewStatus(st), "Pending");
  orders::applyViewEvent(st, "OrderCreated", orderCreatedEvent());
  EXPECT_EQ(orders::viewStatus(st), "Pending");
  orders::applyViewEvent(st, "ShipmentCreated", kShipped);
  orders::applyViewEvent(st, "PaymentProcessed", kPaid);  // late: no step back
  EXPECT_EQ(orders::viewStatus(st), "Shipped");
  EXPECT_FALSE(orders::applyViewEvent(st, "SomethingElse", kPaid));
  EXPECT_FALSE(orders::applyViewEvent(st, "PaymentProcessed", Json::array()));
}

TEST(OrderView, UsesTheStreamWhenThePayloadHasNoOrderId) {
  Fixture f;
  Json paid = kPaid;
  paid.erase("orderId");
  ASSERT_EQ(f.event("PaymentProcessed", paid, kOrder2).status, Status::Ok);
  EXPECT_EQ(f.db.views.count(kOrder2), 1u);
  EXPECT_EQ(f.event("PaymentProcessed", paid, "").status, Status::Reject);
  EXPECT_EQ(f.event("PaymentProcessed", Json::array(), kOrder1).status, Status::Reject);
}

TEST(OrderView, ConcurrentWriterMakesItRetry) {
  Fixture f;
  f.event("OrderCreated", orderCreatedEvent());
  f.db.bumpViewOnce = true;
  EXPECT_EQ(f.event("PaymentProcessed", kPaid).status, Status::Retry);
  EXPECT_EQ(f.db.views[kOrder1].status, "Pending");
  EXPECT_EQ(f.event("PaymentProcessed", kPaid).status, Status::Ok);  // redelivery succeeds
  EXPECT_EQ(f.db.views[kOrder1].status, "PaymentProcessed");
}

TEST(OrderView, MalformedOrderCreatedAmountIsRejected) {
  Fixture f;
  Json e = orderCreatedEvent();
  e["totalAmount"] = "lots";
  EXPECT_EQ(f.event("OrderCreated", e).status, Status::Reject);
}

// ---------------------------------------------------------------- routes

TEST(PostOrder, Creates201WithLocationAndTheWorkedExample) {
  Fixture f;
  auto out = f.postOrder(validBody().dump());
  ASSERT_EQ(out.httpStatus, 201) << out.body;
  const Json body = out.json();
  const std::string id = body["orderId"];
  EXPECT_TRUE(plexus::uuid::valid(id));
  EXPECT_EQ(out.headers["Location"], "/api/orders/" + id);
  EXPECT_EQ(body["totalAmount"].dump(), "89.97");
  EXPECT_EQ(body["items"][0]["lineTotal"].dump(), "39.98");
  EXPECT_EQ(body["currency"], "USD");
  EXPECT_FALSE(body.contains("idempotentReplay"));
  EXPECT_EQ(f.host.metric("orders_created_total"), 1.0);
  ASSERT_EQ(f.emittedOf("OrderCreated"), 1u);
  EXPECT_EQ(f.host.emitted()[0].stream, id);

  // GET right after POST: the Pending summary
  auto got = f.getOrder(id);
  ASSERT_EQ(got.httpStatus, 200) << got.body;
  EXPECT_EQ(got.json()["status"], "Pending");
  EXPECT_EQ(got.json()["totalAmount"].dump(), "89.97");
  EXPECT_EQ(got.json()["itemCount"], 3);
}

TEST(PostOrder, ClientOrderIdIsIgnored) {
  Fixture f;
  auto out = f.postOrder(withOrderId(validBody(), kOrder2).dump());
  ASSERT_EQ(out.httpStatus, 201) << out.body;
  EXPECT_NE(out.json()["orderId"], kOrder2);
}

TEST(PostOrder, IdempotencyKeyHeaderGives200AndTheSameOrder) {
  Fixture f;
  auto first = f.postOrder(validBody().dump(), {{"Idempotency-Key", "abc"}});
  ASSERT_EQ(first.httpStatus, 201) << first.body;
  auto second = f.postOrder(validBody().dump(), {{"idempotency-key", "abc"}});
  ASSERT_EQ(second.httpStatus, 200) << second.body;
  EXPECT_EQ(second.json(), first.json());
  EXPECT_EQ(second.headers["Location"], first.headers["Location"]);
  EXPECT_EQ(f.db.orders.size(), 1u);
  EXPECT_EQ(f.db.orders.begin()->second.key, std::optional<std::string>("abc"));
  EXPECT_EQ(f.host.metric("orders_created_total"), 1.0);
  EXPECT_EQ(f.emittedOf("OrderCreated"), 1u);
}

TEST(PostOrder, IdempotencyKeyFieldGives200AndTheSameOrder) {
  Fixture f;
  Json b = validBody();
  b["idempotencyKey"] = "field-key";
  auto first = f.postOrder(b.dump());
  ASSERT_EQ(first.httpStatus, 201) << first.body;
  auto second = f.postOrder(b.dump());
  ASSERT_EQ(second.httpStatus, 200) << second.body;
  EXPECT_EQ(second.json()["orderId"], first.json()["orderId"]);
  // the header with the same value names the same order
  auto third = f.postOrder(b.dump(), {{"Idempotency-Key", "field-key"}});
  ASSERT_EQ(third.httpStatus, 200) << third.body;
  EXPECT_EQ(f.db.orders.size(), 1u);
}

TEST(PostOrder, HeaderAndFieldThatDifferAre400) {
  Fixture f;
  Json b = validBody();
  b["idempotencyKey"] = "one";
  auto out = f.postOrder(b.dump(), {{"Idempotency-Key", "two"}});
  EXPECT_EQ(out.httpStatus, 400);
  EXPECT_EQ(out.json()["error"], "Idempotency-Key header and idempotencyKey field differ");
  out = f.postOrder(validBody().dump(), {{"Idempotency-Key", repeat('k', 129)}});
  EXPECT_EQ(out.httpStatus, 400);
  out = f.postOrder(validBody().dump(), {{"Idempotency-Key", ""}});
  EXPECT_EQ(out.httpStatus, 400);
  EXPECT_TRUE(f.db.orders.empty());
}

TEST(PostOrder, BadBodiesAre400WithAnError) {
  Fixture f;
  const std::vector<std::string> bodies = {
      "{not json",
      "",
      "[]",
      "42",
      R"({"customerId": "c"})",
      [] {
        Json b = validBody();
        b["items"] = Json::array();
        return b.dump();
      }(),
      [] {
        Json b = validBody();
        b["items"][0]["quantity"] = 0;
        return b.dump();
      }(),
      [] {
        Json b = validBody();
        b["items"][0]["unitPrice"] = -1;
        return b.dump();
      }(),
      [] {
        Json b = validBody();
        b.erase("customerId");
        return b.dump();
      }(),
      [] {
        Json b = validBody();
        b["shippingAddress"].erase("zipCode");
        return b.dump();
      }(),
      [] {
        Json b = validBody();
        b["items"][0]["quantity"] = "two";
        return b.dump();
      }(),
      [] {
        Json b = validBody();
        b["items"] = "prod-a";
        return b.dump();
      }(),
  };
  for (const auto& body : bodies) {
    auto out = f.postOrder(body);
    EXPECT_EQ(out.httpStatus, 400) << body;
    EXPECT_TRUE(out.json().contains("error")) << out.body;
    EXPECT_TRUE(out.json()["error"].is_string()) << out.body;
  }
  EXPECT_TRUE(f.db.orders.empty());
  EXPECT_TRUE(f.host.emitted().empty());
  EXPECT_EQ(f.host.metric("orders_created_total"), 0.0);
}

TEST(PostOrder, ReceptorFailuresMapTo503And500) {
  FakeHost host;
  auto post = host.create<orders::PostOrder>();
  Status answer = Status::Retry;
  host.onInvoke([&](const std::string&, const Json&) {
    return HandleOutcome{answer, "sql failed: secret"};
  });
  TestRequest rq;
  rq.method = "POST";
  rq.path = "/api/orders";
  rq.body = validBody().dump();
  EXPECT_EQ(host.request(*post, rq).httpStatus, 503);
  answer = Status::Reject;
  auto out = host.request(*post, rq);
  EXPECT_EQ(out.httpStatus, 500);
  EXPECT_EQ(out.body.find("secret"), std::string::npos);
}

TEST(PostOrder, DatabaseDownIs503) {
  Fixture f;
  f.db.failWith = static_cast<int>(Status::Retry);
  EXPECT_EQ(f.postOrder(validBody().dump()).httpStatus, 503);
  EXPECT_EQ(f.host.metric("orders_created_total"), 0.0);
}

TEST(GetOrder, UnknownOrderIs404) {
  Fixture f;
  auto out = f.getOrder(kOrder2);
  EXPECT_EQ(out.httpStatus, 404);
  EXPECT_EQ(out.json()["error"], "order not found");
}
