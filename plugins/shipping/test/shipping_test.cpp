#include "shipping.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

using plexus::Json;
using plexus::Row;
using plexus::Status;
using plexus::Value;
using plexus::testing::FakeHost;
using plexus::testing::message;
using plexus::testing::SqlAnswer;
using plexus::testing::Statement;
using plexus::testing::TestRequest;

namespace {

constexpr int64_t kNow = 1767225600000;  // FakeHost's clock: 2026-01-01T00:00:00Z
constexpr int64_t kDayMs = 86400000;

// A tiny in-memory model of the shipping tables, answering the plugin's statements.
struct Db {
  struct Shipment {
    std::string status, shipmentId, tracking, label, currency, reason, carrier, customerId, address;
    int64_t cost = 0, estimated = 0, created = 0;
    std::optional<int64_t> deliveredAt;
  };
  std::map<std::string, Shipment> shipments;  // by order id
  std::set<std::tuple<std::string, std::string, std::string, int64_t>> events;
  int unknown = 0;

  static bool has(const Statement& s, const char* text) {
    return s.sql.find(text) != std::string::npos;
  }
  // A duplicate key is a constraint error unless the statement says ON CONFLICT ... DO NOTHING.
  static SqlAnswer duplicate(const Statement& s, const char* conflict) {
    if (has(s, conflict)) return SqlAnswer{};
    return SqlAnswer{Status::Reject, {}, 0, "UNIQUE constraint failed"};
  }

  SqlAnswer answer(const Statement& s) {
    SqlAnswer a;
    const auto& p = s.params;
    if (has(s, "SELECT status, shipment_id") && has(s, "WHERE order_id = $1")) {
      auto it = shipments.find(p.at(0).asText());
      if (it != shipments.end()) {
        const Shipment& x = it->second;
        if (x.status == "Failed") {
          a.rows.push_back(Row{x.status, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                               x.created, x.reason, x.carrier});
        } else {
          a.rows.push_back(Row{x.status, x.shipmentId, x.tracking, x.label, x.cost, x.currency,
                               x.estimated, x.created, nullptr, x.carrier});
        }
      }
    } else if (has(s, "INSERT INTO shipping_shipments") && has(s, "'Failed'")) {
      if (shipments.count(p.at(0).asText()) != 0) {
        return duplicate(s, "ON CONFLICT (order_id) DO NOTHING");
      }
      {
        Shipment x;
        x.status = "Failed";
        x.customerId = p.at(1).asText();
        x.carrier = p.at(2).asText();
        x.address = p.at(3).asText();
        x.reason = p.at(4).asText();
        x.created = p.at(5).asInt();
        shipments[p.at(0).asText()] = x;
        a.affected = 1;
      }
    } else if (has(s, "INSERT INTO shipping_shipments") && has(s, "'Created'")) {
      for (const auto& [id, x] : shipments) {
        if (x.tracking == p.at(4).asText()) {
          return SqlAnswer{Status::Reject, {}, 0, "UNIQUE constraint failed: tracking_number"};
        }
      }
      if (shipments.count(p.at(0).asText()) != 0) {
        return duplicate(s, "ON CONFLICT (order_id) DO NOTHING");
      }
      {
        Shipment x;
        x.status = "Created";
        x.shipmentId = p.at(1).asText();
        x.customerId = p.at(2).asText();
        x.carrier = p.at(3).asText();
        x.tracking = p.at(4).asText();
        x.label = p.at(5).asText();
        x.cost = p.at(6).asInt();
        x.currency = p.at(7).asText();
        x.estimated = p.at(8).asInt();
        x.address = p.at(9).asText();
        x.created = p.at(10).asInt();
        shipments[p.at(0).asText()] = x;
        a.affected = 1;
      }
    } else if (has(s, "SELECT order_id, shipment_id FROM shipping_shipments")) {
      for (const auto& [id, x] : shipments) {
        if (!x.tracking.empty() && x.tracking == p.at(0).asText()) {
          a.rows.push_back(Row{id, x.shipmentId});
        }
      }
    } else if (has(s, "INSERT INTO shipping_tracking_events")) {
      auto key =
          std::make_tuple(p.at(1).asText(), p.at(4).asText(), p.at(5).asText(), p.at(6).asInt());
      if (events.count(key) != 0) {
        return duplicate(s,
                         "ON CONFLICT (tracking_number, status, location, event_at_ms) DO NOTHING");
      }
      events.insert(key);
      a.affected = 1;
    } else if (has(s, "UPDATE shipping_shipments SET status = 'Delivered'")) {
      for (auto& [id, x] : shipments) {
        if (x.tracking == p.at(2).asText() &&
            (!x.deliveredAt || !has(s, "AND delivered_at_ms IS NULL"))) {
          x.deliveredAt = p.at(0).asInt();
          x.status = "Delivered";
          a.affected = 1;
        }
      }
    } else {
      ++unknown;
    }
    return a;
  }
};

Json address(const std::string& zip = "10001") {
  return Json{{"street", "1 Main St"},
              {"city", "New York"},
              {"state", "NY"},
              {"zipCode", zip},
              {"country", "US"}};
}

Json createShipment(const std::string& orderId = "0198a000-0000-7000-8000-00000000000a",
                    const std::string& zip = "10001") {
  return Json{{"orderId", orderId}, {"customerId", "cust-1"}, {"shippingAddress", address(zip)}};
}

const std::string kOrder = "0198a000-0000-7000-8000-00000000000a";

// Every fixture's plugin config carries the webhook secret; webhook() signs like a carrier would.
const char* const kWebhookSecret = "test-webhook-secret-0123456789abcdef";

std::string withWebhookSecret(const std::string& config) {
  Json c = Json::parse(config);
  c["webhook_secret"] = kWebhookSecret;
  return c.dump();
}

struct Fixture {
  explicit Fixture(const std::string& config = "{}") : host(withWebhookSecret(config)) {
    host.onSql([this](const Statement& s) { return db.answer(s); });
  }
  plexus::testing::HandleOutcome create(const Json& payload, uint32_t attempt = 1,
                                        const std::string& id = "msg-1") {
    auto r = host.create<shipping::CreateShipmentReceptor>();
    const bool named =
        payload.is_object() && payload.contains("orderId") && payload["orderId"].is_string();
    auto m =
        message("CreateShipment", payload, named ? payload["orderId"].get<std::string>() : "s");
    m.attempt = attempt;
    m.id = id;
    return host.handle(*r, m);
  }
  plexus::testing::HttpOutcome webhook(const std::string& body) {
    auto route = host.create<shipping::FedexTrackingWebhook>();
    TestRequest rq;
    rq.method = "POST";
    rq.path = "/api/webhooks/fedex/tracking";
    rq.body = body;
    const std::string ts = std::to_string(kNow / 1000);  // FakeHost's clock
    rq.headers["X-Webhook-Timestamp"] = ts;
    rq.headers["X-Webhook-Signature"] =
        "sha256=" + shipping::toHex(shipping::hmacSha256(kWebhookSecret, ts + "." + body));
    return host.request(*route, rq);
  }
  FakeHost host;
  Db db;
};

}  // namespace

// ---- helpers ----

TEST(Rfc3339, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(shipping::formatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(shipping::formatRfc3339(kNow), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(shipping::formatRfc3339(kNow + 3 * kDayMs + 1234), "2026-01-04T00:00:01.234Z");
  EXPECT_EQ(shipping::formatRfc3339(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(shipping::formatRfc3339(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Rfc3339, ParsesZuluOffsetsAndFractions) {
  EXPECT_EQ(shipping::parseRfc3339("2026-01-01T00:00:00Z"), kNow);
  EXPECT_EQ(shipping::parseRfc3339("2026-01-01T00:00:00.5Z"), kNow + 500);
  EXPECT_EQ(shipping::parseRfc3339("2026-01-01T00:00:00.123456Z"), kNow + 123);
  EXPECT_EQ(shipping::parseRfc3339("2026-01-01T02:00:00+02:00"), kNow);
  EXPECT_EQ(shipping::parseRfc3339("2025-12-31T19:00:00-05:00"), kNow);
  EXPECT_EQ(shipping::parseRfc3339("2024-02-29T12:00:00Z"), 1709208000000);
  const int64_t t = kNow + 12345678;
  EXPECT_EQ(shipping::parseRfc3339(shipping::formatRfc3339(t)), t);
}

TEST(Rfc3339, RejectsMalformedDates) {
  for (const char* bad :
       {"", "yesterday", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00+0200", "2026-01-01T00:00:00Zjunk", "2026-1-01T00:00:00Z"}) {
    EXPECT_FALSE(shipping::parseRfc3339(bad).has_value()) << bad;
  }
}

TEST(Money, ParsesAtMostTwoDecimals) {
  EXPECT_EQ(shipping::parseMoneyCents(Json(9.99)), 999);
  EXPECT_EQ(shipping::parseMoneyCents(Json(10)), 1000);
  EXPECT_EQ(shipping::parseMoneyCents(Json(0)), 0);
  EXPECT_EQ(shipping::parseMoneyCents(Json(19.99)), 1999);
  EXPECT_FALSE(shipping::parseMoneyCents(Json(9.999)));
  EXPECT_FALSE(shipping::parseMoneyCents(Json(-1)));
  EXPECT_FALSE(shipping::parseMoneyCents(Json(-0.5)));
  EXPECT_FALSE(shipping::parseMoneyCents(Json("9.99")));
  EXPECT_FALSE(shipping::parseMoneyCents(Json(nullptr)));
  EXPECT_EQ(shipping::centsToJson(999).dump(), "9.99");
  EXPECT_EQ(shipping::centsToJson(1000).dump(), "10");
  EXPECT_EQ(shipping::centsToJson(5).dump(), "0.05");
}

TEST(Ids, OpaqueIdsAndTrackingNumbers) {
  EXPECT_TRUE(shipping::isOpaqueId("cust-1_A.b"));
  EXPECT_FALSE(shipping::isOpaqueId(""));
  EXPECT_FALSE(shipping::isOpaqueId(std::string(65, 'a')));
  EXPECT_FALSE(shipping::isOpaqueId("a b"));
  const std::string a = shipping::trackingNumberFor("0198a000-0000-7000-8000-000000000001");
  const std::string b = shipping::trackingNumberFor("0198a000-0000-7000-8000-000000000002");
  EXPECT_EQ(a, "SBX09223372036854775809");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, shipping::trackingNumberFor("0198a000-0000-7000-8000-000000000001"));
}

TEST(SandboxCarrier, TriggersByZipCode) {
  using K = shipping::CarrierOutcome::Kind;
  EXPECT_EQ(shipping::sandboxCarrier("10001", 1).kind, K::Created);
  EXPECT_EQ(shipping::sandboxCarrier("00000", 1).kind, K::Refused);
  EXPECT_EQ(shipping::sandboxCarrier("99999", 1).kind, K::Unavailable);
  EXPECT_EQ(shipping::sandboxCarrier("99999", 7).kind, K::Unavailable);
  EXPECT_EQ(shipping::sandboxCarrier("99998", 1).kind, K::Unavailable);
  EXPECT_EQ(shipping::sandboxCarrier("99998", 2).kind, K::Created);
}

// ---- CreateShipment ----

TEST(CreateShipment, CreatesOneShipmentAndEmitsShipmentCreated) {
  Fixture f;
  auto out = f.create(createShipment());
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(f.host.emitted().size(), 1u);
  const auto& e = f.host.emitted()[0];
  EXPECT_EQ(e.type, "ShipmentCreated");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload["orderId"], kOrder);
  EXPECT_EQ(e.payload["carrier"], "FedEx-Sandbox");
  const std::string shipmentId = e.payload["shipmentId"];
  EXPECT_EQ(shipmentId.size(), 36u);
  EXPECT_EQ(e.payload["trackingNumber"], shipping::trackingNumberFor(shipmentId));
  EXPECT_EQ(e.payload["trackingNumber"].get<std::string>().rfind("SBX", 0), 0u);
  EXPECT_NE(
      e.payload["labelUrl"].get<std::string>().find(e.payload["trackingNumber"].get<std::string>()),
      std::string::npos);
  EXPECT_EQ(e.payload["shippingCost"], 9.99);
  EXPECT_EQ(e.payload["currency"], "USD");
  EXPECT_EQ(e.payload["estimatedDelivery"], "2026-01-04T00:00:00.000Z");
  EXPECT_EQ(e.payload["createdAt"], "2026-01-01T00:00:00.000Z");
  ASSERT_EQ(f.db.shipments.size(), 1u);
  EXPECT_EQ(f.db.shipments[kOrder].cost, 999);
  EXPECT_EQ(f.db.shipments[kOrder].customerId, "cust-1");
  EXPECT_EQ(Json::parse(f.db.shipments[kOrder].address)["zipCode"], "10001");
  EXPECT_EQ(f.host.metric("shipping_shipments_total", {"created"}), 1.0);
  EXPECT_EQ(f.db.unknown, 0);
}

TEST(CreateShipment, ShippingCostAndDeliveryDaysComeFromConfig) {
  Fixture f(R"({"shipping_cost": 12.5, "currency": "EUR", "estimated_delivery_days": 5})");
  ASSERT_EQ(f.create(createShipment()).status, Status::Ok);
  const auto& e = f.host.emitted().at(0).payload;
  EXPECT_EQ(e["shippingCost"], 12.5);
  EXPECT_EQ(e["currency"], "EUR");
  EXPECT_EQ(e["estimatedDelivery"], "2026-01-06T00:00:00.000Z");
  EXPECT_EQ(f.db.shipments[kOrder].cost, 1250);
}

TEST(CreateShipment, RefusesBadConfig) {
  for (const char* cfg :
       {R"({"shipping_cost": 1.234})", R"({"shipping_cost": -1})", R"({"max_carrier_attempts": 0})",
        R"({"currency": "DOLLARS"})", R"({"estimated_delivery_days": -2})"}) {
    FakeHost host(cfg);
    EXPECT_THROW(host.create<shipping::CreateShipmentReceptor>(), std::runtime_error) << cfg;
  }
}

TEST(CreateShipment, RepeatedCommandReemitsTheSameShipment) {
  Fixture f;
  ASSERT_EQ(f.create(createShipment(), 1, "msg-1").status, Status::Ok);
  f.host.advanceMs(60000);
  ASSERT_EQ(f.create(createShipment(), 1, "msg-2").status, Status::Ok);
  ASSERT_EQ(f.host.emitted().size(), 2u);
  EXPECT_EQ(f.host.emitted()[0].payload, f.host.emitted()[1].payload);
  EXPECT_EQ(f.host.emitted()[1].type, "ShipmentCreated");
  EXPECT_EQ(f.host.emitted()[1].stream, kOrder);
  EXPECT_EQ(f.db.shipments.size(), 1u);
  EXPECT_EQ(f.host.metric("shipping_shipments_total", {"created"}), 1.0);
}

TEST(CreateShipment, ShipmentsOfTwoOrdersGetDistinctTrackingNumbers) {
  Fixture f;
  ASSERT_EQ(f.create(createShipment("order-1")).status, Status::Ok);
  ASSERT_EQ(f.create(createShipment("order-2")).status, Status::Ok);
  ASSERT_EQ(f.host.emitted().size(), 2u);
  EXPECT_NE(f.host.emitted()[0].payload["trackingNumber"],
            f.host.emitted()[1].payload["trackingNumber"]);
  EXPECT_EQ(f.host.emitted()[1].stream, "order-2");
}

TEST(CreateShipment, ZipCode00000IsRefusedPermanentlyWithoutRetry) {
  Fixture f;
  auto out = f.create(createShipment(kOrder, "00000"));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(f.host.emitted().size(), 1u);
  const auto e = f.host.emitted()[0];  // a copy: emitted() grows below
  EXPECT_EQ(e.type, "ShipmentFailed");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload["orderId"], kOrder);
  EXPECT_NE(e.payload["reason"].get<std::string>().find("refused"), std::string::npos);
  EXPECT_EQ(e.payload["failedAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(f.db.shipments[kOrder].status, "Failed");
  EXPECT_EQ(f.host.metric("shipping_shipments_total", {"failed"}), 1.0);
  // A repeat (even a later attempt) answers with the same failure, never a shipment.
  ASSERT_EQ(f.create(createShipment(kOrder, "00000"), 2, "msg-2").status, Status::Ok);
  ASSERT_EQ(f.host.emitted().size(), 2u);
  EXPECT_EQ(f.host.emitted()[1].type, "ShipmentFailed");
  EXPECT_EQ(f.host.emitted()[1].payload, e.payload);
}

TEST(CreateShipment, TransientCarrierErrorsRetryThenFailAfterTheBudget) {
  Fixture f;
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    auto out = f.create(createShipment(kOrder, "99999"), attempt);
    EXPECT_EQ(out.status, Status::Retry) << attempt;
  }
  EXPECT_TRUE(f.host.emitted().empty());
  EXPECT_TRUE(f.db.shipments.empty());
  auto out = f.create(createShipment(kOrder, "99999"), 3);
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(f.host.emitted().size(), 1u);
  EXPECT_EQ(f.host.emitted()[0].type, "ShipmentFailed");
  EXPECT_NE(f.host.emitted()[0].payload["reason"].get<std::string>().find("after the retry budget"),
            std::string::npos);
  EXPECT_EQ(f.db.shipments[kOrder].status, "Failed");
}

TEST(CreateShipment, RetryBudgetComesFromConfig) {
  Fixture f(R"({"max_carrier_attempts": 1})");
  auto out = f.create(createShipment(kOrder, "99999"), 1);
  ASSERT_EQ(out.status, Status::Ok);
  EXPECT_EQ(f.host.emitted().at(0).type, "ShipmentFailed");
}

TEST(CreateShipment, ATransientErrorThatClearsCreatesTheShipment) {
  Fixture f;
  EXPECT_EQ(f.create(createShipment(kOrder, "99998"), 1).status, Status::Retry);
  ASSERT_EQ(f.create(createShipment(kOrder, "99998"), 2).status, Status::Ok);
  ASSERT_EQ(f.host.emitted().size(), 1u);
  EXPECT_EQ(f.host.emitted()[0].type, "ShipmentCreated");
}

TEST(CreateShipment, RejectsAPayloadWithoutAnOrderId) {
  Fixture f;
  EXPECT_EQ(f.create(Json{{"customerId", "c"}, {"shippingAddress", address()}}).status,
            Status::Reject);
  EXPECT_EQ(f.create(Json{{"orderId", 42}}).status, Status::Reject);
  EXPECT_EQ(f.create(Json::array()).status, Status::Reject);
  EXPECT_TRUE(f.host.emitted().empty());
}

TEST(CreateShipment, AnInvalidAddressFailsTheShipment) {
  Fixture f;
  Json bad = createShipment();
  bad["shippingAddress"].erase("zipCode");
  ASSERT_EQ(f.create(bad).status, Status::Ok);
  ASSERT_EQ(f.host.emitted().size(), 1u);
  EXPECT_EQ(f.host.emitted()[0].type, "ShipmentFailed");
  EXPECT_NE(f.host.emitted()[0].payload["reason"].get<std::string>().find("zipCode"),
            std::string::npos);

  Fixture g;
  Json badCustomer = createShipment();
  badCustomer["customerId"] = "no spaces allowed";
  ASSERT_EQ(g.create(badCustomer).status, Status::Ok);
  EXPECT_EQ(g.host.emitted().at(0).type, "ShipmentFailed");
}

TEST(CreateShipment, ValidatesEveryField) {
  EXPECT_EQ(shipping::validateCreateShipment(createShipment()), "");
  for (const char* field : {"street", "city", "state", "zipCode", "country"}) {
    Json b = createShipment();
    b["shippingAddress"][field] = "";
    EXPECT_NE(shipping::validateCreateShipment(b), "") << field;
    b["shippingAddress"][field] = 5;
    EXPECT_NE(shipping::validateCreateShipment(b), "") << field;
  }
  Json b = createShipment();
  b["shippingAddress"] = "1 Main St";
  EXPECT_NE(shipping::validateCreateShipment(b), "");
  b = createShipment();
  b.erase("customerId");
  EXPECT_NE(shipping::validateCreateShipment(b), "");
}

// ---- tracking webhook ----

namespace {
std::string trackingBody(const std::string& tracking, const std::string& status,
                         const std::string& ts = "2026-01-03T10:00:00Z") {
  return Json{{"trackingNumber", tracking},
              {"status", status},
              {"location", "Memphis, TN"},
              {"timestamp", ts}}
      .dump();
}
}  // namespace

TEST(TrackingWebhook, AnswersBadBodiesWith400) {
  Fixture f;
  const Json good = Json::parse(trackingBody("SBX1", "InTransit"));
  std::vector<std::string> bodies = {"not json", "[]", "{}", "null"};
  for (const char* field : {"trackingNumber", "status", "location", "timestamp"}) {
    Json missing = good;
    missing.erase(field);
    bodies.push_back(missing.dump());
    Json wrong = good;
    wrong[field] = 12;
    bodies.push_back(wrong.dump());
  }
  Json empty = good;
  empty["trackingNumber"] = "";
  bodies.push_back(empty.dump());
  Json badTs = good;
  badTs["timestamp"] = "2026-02-30T00:00:00Z";
  bodies.push_back(badTs.dump());
  badTs["timestamp"] = "yesterday";
  bodies.push_back(badTs.dump());
  for (const auto& body : bodies) {
    auto out = f.webhook(body);
    EXPECT_EQ(out.httpStatus, 400) << body;
    EXPECT_TRUE(out.json().contains("error")) << body;
  }
  EXPECT_TRUE(f.host.emitted().empty());
}

TEST(TrackingWebhook, UnknownTrackingNumberIs404) {
  Fixture f;
  auto out = f.webhook(trackingBody("SBX00000000000000000099", "InTransit"));
  EXPECT_EQ(out.httpStatus, 404);
  EXPECT_EQ(out.json()["error"], "unknown tracking number");
  EXPECT_TRUE(f.db.events.empty());
}

TEST(TrackingWebhook, RecordsATrackingEventWithoutEmitting) {
  Fixture f;
  ASSERT_EQ(f.create(createShipment()).status, Status::Ok);
  const std::string tn = f.host.emitted()[0].payload["trackingNumber"];
  f.host.clearOutgoing();
  auto out = f.webhook(trackingBody(tn, "InTransit"));
  ASSERT_EQ(out.httpStatus, 200) << out.body;
  EXPECT_EQ(out.json()["recorded"], true);
  EXPECT_EQ(out.json()["shipmentDelivered"], false);
  EXPECT_EQ(f.db.events.size(), 1u);
  EXPECT_TRUE(f.host.emitted().empty());
  // The carrier re-sending the same update records nothing new.
  auto again = f.webhook(trackingBody(tn, "InTransit"));
  EXPECT_EQ(again.httpStatus, 200);
  EXPECT_EQ(again.json()["recorded"], false);
  EXPECT_EQ(f.db.events.size(), 1u);
}

TEST(TrackingWebhook, DeliveredEmitsShipmentDeliveredOnce) {
  Fixture f;
  ASSERT_EQ(f.create(createShipment()).status, Status::Ok);
  const Json created = f.host.emitted()[0].payload;
  const std::string tn = created["trackingNumber"];
  f.host.clearOutgoing();
  auto out = f.webhook(trackingBody(tn, "Delivered", "2026-01-03T12:30:00+01:00"));
  ASSERT_EQ(out.httpStatus, 200) << out.body;
  EXPECT_EQ(out.json()["shipmentDelivered"], true);
  ASSERT_EQ(f.host.emitted().size(), 1u);
  const auto& e = f.host.emitted()[0];
  EXPECT_EQ(e.type, "ShipmentDelivered");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload["orderId"], kOrder);
  EXPECT_EQ(e.payload["shipmentId"], created["shipmentId"]);
  EXPECT_EQ(e.payload["trackingNumber"], tn);
  EXPECT_EQ(e.payload["deliveredAt"], "2026-01-03T11:30:00.000Z");
  EXPECT_EQ(f.host.metric("shipping_deliveries_total"), 1.0);
  // A second Delivered (same or later time) records the event but emits nothing.
  auto again = f.webhook(trackingBody(tn, "Delivered", "2026-01-03T13:00:00Z"));
  EXPECT_EQ(again.httpStatus, 200);
  EXPECT_EQ(again.json()["shipmentDelivered"], false);
  EXPECT_EQ(f.host.emitted().size(), 1u);
  EXPECT_EQ(f.db.events.size(), 2u);
  EXPECT_EQ(f.host.metric("shipping_deliveries_total"), 1.0);
  EXPECT_EQ(f.db.unknown, 0);
}

TEST(TrackingWebhook, AFailedShipmentHasNoTrackingNumber) {
  Fixture f;
  ASSERT_EQ(f.create(createShipment(kOrder, "00000")).status, Status::Ok);
  EXPECT_EQ(f.webhook(trackingBody("", "Delivered")).httpStatus, 400);
  EXPECT_EQ(f.webhook(trackingBody("SBX00000000000000000001", "Delivered")).httpStatus, 404);
}
