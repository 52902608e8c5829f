#include "analytics.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

using plexus::Json;
using plexus::Status;
using plexus::Value;
using plexus::testing::FakeHost;
using plexus::testing::SqlAnswer;
using plexus::testing::Statement;
using plexus::testing::TestMessage;
using plexus::testing::TestRequest;

namespace {

// ---- in-memory model of the tables; the report statements are answered like the SQL would ----

struct OrderRow {
  bool created = false, cancelled = false;
  std::string customer, day, items;
  int64_t createdAt = 0, hour = 0, total = 0, itemCount = 0;
};
struct LineRow {
  int64_t quantity = 0, cents = 0;
};

bool has(const std::string& sql, const char* s) { return sql.find(s) != std::string::npos; }
Value v(int64_t i) { return Value(static_cast<long long>(i)); }

class Model {
 public:
  std::map<std::string, OrderRow> orders;
  std::map<std::pair<std::string, std::string>, LineRow> lines;
  bool failAll = false;

  SqlAnswer operator()(const Statement& st) {
    const auto& p = st.params;
    const std::string& q = st.sql;
    SqlAnswer a;
    if (failAll) return SqlAnswer{Status::Retry, {}, 0, "connection lost"};
    if (has(q, "INSERT INTO analytics_orders")) {
      a.affected = orders.emplace(p[0].asText(), OrderRow{}).second ? 1 : 0;
    } else if (has(q, "SET created = 1")) {
      auto& o = orders.at(p[8].asText());
      if (!o.created) {
        o.created = true;
        o.customer = p[0].asText();
        o.createdAt = p[1].asInt();
        o.day = p[2].asText();
        o.hour = p[3].asInt();
        o.total = p[4].asInt();
        o.itemCount = p[5].asInt();
        o.items = p[6].asText();
        a.affected = 1;
      }
    } else if (has(q, "INSERT INTO analytics_order_lines")) {
      a.affected = lines.emplace(std::make_pair(p[0].asText(), p[1].asText()),
                                 LineRow{p[2].asInt(), p[3].asInt()})
                           .second
                       ? 1
                       : 0;
    } else if (has(q, "SET cancelled = 1")) {
      auto& o = orders.at(p[2].asText());
      if (!o.cancelled) {
        o.cancelled = true;
        a.affected = 1;
      }
    } else if (has(q, "GROUP BY day")) {
      struct Agg {
        int64_t n = 0, cancelled = 0, revenue = 0, items = 0;
        std::set<std::string> customers;
      };
      std::map<std::string, Agg, std::greater<>> days;
      for (const auto& [id, o] : orders) {
        if (!o.created || o.day < p[0].asText() || o.day > p[1].asText()) continue;
        auto& g = days[o.day];
        ++g.n;
        g.cancelled += o.cancelled ? 1 : 0;
        g.revenue += o.cancelled ? 0 : o.total;
        g.items += o.cancelled ? 0 : o.itemCount;
        g.customers.insert(o.customer);
      }
      for (const auto& [day, g] : days) {
        a.rows.push_back({Value(day), v(g.n), v(g.cancelled), v(g.revenue), v(g.items),
                          v(static_cast<int64_t>(g.customers.size()))});
      }
    } else if (has(q, "GROUP BY hour")) {
      std::map<int64_t, std::pair<int64_t, int64_t>> hours;
      for (const auto& [id, o] : orders) {
        if (!o.created || o.day != p[0].asText()) continue;
        auto& h = hours[o.hour];
        ++h.first;
        h.second += o.cancelled ? 0 : o.total;
      }
      for (const auto& [hour, h] : hours) a.rows.push_back({v(hour), v(h.first), v(h.second)});
    } else if (has(q, "GROUP BY l.product_id")) {
      struct Agg {
        std::set<std::string> orders;
        int64_t units = 0, revenue = 0;
      };
      std::map<std::string, Agg> products;
      for (const auto& [key, l] : lines) {
        const auto& o = orders.at(key.first);
        if (!o.created || o.cancelled || o.day < p[0].asText() || o.day > p[1].asText()) continue;
        auto& g = products[key.second];
        g.orders.insert(key.first);
        g.units += l.quantity;
        g.revenue += l.cents;
      }
      std::vector<std::pair<std::string, Agg>> sorted(products.begin(), products.end());
      std::sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) {
        return x.second.revenue != y.second.revenue ? x.second.revenue > y.second.revenue
                                                    : x.first < y.first;
      });
      for (const auto& [id, g] : sorted) {
        if (static_cast<int64_t>(a.rows.size()) >= p[2].asInt()) break;
        a.rows.push_back(
            {Value(id), v(static_cast<int64_t>(g.orders.size())), v(g.units), v(g.revenue)});
      }
    } else {
      ADD_FAILURE() << "unexpected statement: " << q;
    }
    return a;
  }
};

Json item(const std::string& product, int q, double unit) {
  return Json{{"productId", product},
              {"quantity", q},
              {"unitPrice", unit},
              {"lineTotal", std::round(unit * q * 100) / 100}};
}

Json created(const std::string& orderId, const std::string& customer, const std::string& at,
             Json items, double total) {
  return Json{{"orderId", orderId},
              {"customerId", customer},
              {"items", std::move(items)},
              {"totalAmount", total},
              {"currency", "USD"},
              {"createdAt", at},
              {"shippingAddress", Json::object()}};
}

// The DOMAIN's worked example: 2 x 19.99 + 1 x 49.99 = 89.97.
Json example(const std::string& orderId, const std::string& customer = "cust-1",
             const std::string& at = "2026-01-05T10:15:00Z") {
  return created(orderId, customer, at,
                 Json::array({item("p-mug", 2, 19.99), item("p-lamp", 1, 49.99)}), 89.97);
}

Json cancelled(const std::string& orderId) {
  return Json{{"orderId", orderId},
              {"reason", "Payment declined"},
              {"cancelledAt", "2026-01-06T00:00:00Z"}};
}

class AnalyticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_.onSql([this](const Statement& st) { return model_(st); });
    host_.setNowMs(1767571200000);  // 2026-01-05T00:00:00Z
    projection_ = host_.create<analytics::SalesProjection>();
    daily_ = host_.create<analytics::GetDailySales>();
    hourly_ = host_.create<analytics::GetHourlySales>();
    top_ = host_.create<analytics::GetTopProducts>();
  }

  plexus::testing::HandleOutcome send(const std::string& type, const Json& payload) {
    const std::string stream = payload.is_object() ? payload.value("orderId", "s-1") : "s-1";
    TestMessage m = plexus::testing::message(type, payload, stream);
    m.id = "msg-" + std::to_string(++seq_);
    return host_.handle(*projection_, m);
  }
  void sendOk(const std::string& type, const Json& payload) {
    auto out = send(type, payload);
    ASSERT_EQ(out.status, Status::Ok) << out.detail;
  }
  template <class T>
  plexus::testing::HttpOutcome get(plexus::testing::Instance<T>& route, const std::string& query) {
    TestRequest rq;
    rq.query = query;
    return host_.request(route, rq);
  }
  const Statement& lastStatement() const { return host_.statements().back(); }

  FakeHost host_;
  Model model_;
  int seq_ = 0;
  std::unique_ptr<plexus::testing::Instance<analytics::SalesProjection>> projection_;
  std::unique_ptr<plexus::testing::Instance<analytics::GetDailySales>> daily_;
  std::unique_ptr<plexus::testing::Instance<analytics::GetHourlySales>> hourly_;
  std::unique_ptr<plexus::testing::Instance<analytics::GetTopProducts>> top_;
};

}  // namespace

// ---- helpers ----

TEST(Helpers, ParseDateChecksTheCalendar) {
  EXPECT_EQ(plexus::rfc3339::parseDate("1970-01-01"), 0);
  EXPECT_EQ(plexus::rfc3339::parseDate("2026-01-05"), 20458);
  EXPECT_TRUE(plexus::rfc3339::parseDate("2024-02-29"));
  EXPECT_TRUE(plexus::rfc3339::parseDate("2000-02-29"));
  EXPECT_TRUE(plexus::rfc3339::parseDate("0000-01-01"));
  EXPECT_TRUE(plexus::rfc3339::parseDate("9999-12-31"));
  EXPECT_TRUE(plexus::rfc3339::parseDate("1600-02-29"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("1900-02-29"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("2023-02-29"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("2026-04-31"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("2026-00-10"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("2026-13-10"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("2026-01-00"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("2026-1-05"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("2026-01-05T00:00:00Z"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("26-01-05"));
  EXPECT_FALSE(plexus::rfc3339::parseDate("2026/01/05"));
  EXPECT_FALSE(plexus::rfc3339::parseDate(""));
  EXPECT_FALSE(plexus::rfc3339::parseDate("+026-01-05"));
}

TEST(Helpers, FormatDateRoundTripsAnyYear) {
  for (const char* d : {"0000-01-01", "0001-03-01", "1582-10-15", "1969-12-31", "2000-02-29",
                        "2024-02-29", "2100-02-28", "9999-12-31"}) {
    auto days = plexus::rfc3339::parseDate(d);
    ASSERT_TRUE(days) << d;
    EXPECT_EQ(plexus::rfc3339::formatDate(*days), d);
  }
}

TEST(Helpers, DayAndHourAreUtc) {
  EXPECT_EQ(analytics::dayOf(1767225600000), "2026-01-01");
  EXPECT_EQ(analytics::hourOf(1767225600000), 0);
  EXPECT_EQ(analytics::dayOf(1767225600000 - 1), "2025-12-31");
  EXPECT_EQ(analytics::hourOf(1767225600000 - 1), 23);
  EXPECT_EQ(analytics::dayOf(*plexus::rfc3339::parse("2024-02-29T23:59:59.999Z")), "2024-02-29");
  EXPECT_EQ(analytics::hourOf(*plexus::rfc3339::parse("2024-02-29T13:30:00Z")), 13);
  // An offset timestamp lands on its UTC day and hour.
  EXPECT_EQ(analytics::dayOf(*plexus::rfc3339::parse("2026-01-01T01:00:00+02:00")), "2025-12-31");
  EXPECT_EQ(analytics::hourOf(*plexus::rfc3339::parse("2026-01-01T01:00:00+02:00")), 23);
  EXPECT_EQ(analytics::dayOf(-1), "1969-12-31");
  EXPECT_EQ(analytics::hourOf(-1), 23);
}

TEST(Helpers, ResolveRangeDefaultsToTheLast30DaysIncludingToday) {
  const int64_t now = *plexus::rfc3339::parse("2026-01-05T18:00:00Z");
  using R = std::pair<std::string, std::string>;
  EXPECT_EQ(analytics::resolveRange(std::nullopt, std::nullopt, now),
            R("2025-12-07", "2026-01-05"));
  EXPECT_EQ(analytics::resolveRange(std::string("2026-01-01"), std::nullopt, now),
            R("2026-01-01", "2026-01-05"));
  EXPECT_EQ(analytics::resolveRange(std::nullopt, std::string("2024-03-01"), now),
            R("2024-02-01", "2024-03-01"));  // leap February
  EXPECT_EQ(analytics::resolveRange(std::string("2024-02-29"), std::string("2024-02-29"), now),
            R("2024-02-29", "2024-02-29"));
  EXPECT_THROW(analytics::resolveRange(std::string("2026-01-06"), std::string("2026-01-05"), now),
               plexus::BadRequest);
  EXPECT_THROW(analytics::resolveRange(std::string("2023-02-29"), std::nullopt, now),
               plexus::BadRequest);
  EXPECT_THROW(analytics::resolveRange(std::nullopt, std::string(""), now), plexus::BadRequest);
}

TEST(Helpers, ParseLimit) {
  EXPECT_EQ(analytics::parseLimit(std::nullopt), 10);
  EXPECT_EQ(analytics::parseLimit(std::string("1")), 1);
  EXPECT_EQ(analytics::parseLimit(std::string("100")), 100);
  for (const char* bad : {"0", "101", "-1", "", "abc", "1.5", "1000", "007x"}) {
    EXPECT_THROW(analytics::parseLimit(std::string(bad)), plexus::BadRequest) << bad;
  }
}

TEST(Helpers, MoneyAndAverages) {
  EXPECT_EQ(analytics::moneyToCents(Json(89.97)), 8997);
  EXPECT_FALSE(analytics::moneyToCents(Json(0.001)));
  EXPECT_FALSE(analytics::moneyToCents(Json(-0.01)));
  EXPECT_EQ(analytics::averageCents(10000, 3), 3333);
  EXPECT_EQ(analytics::averageCents(20000, 3), 6667);
  EXPECT_EQ(analytics::averageCents(5, 2), 3);  // half up
  EXPECT_EQ(analytics::averageCents(100, 0), 0);
  EXPECT_EQ(plexus::money::toJson(6667).dump(), "66.67");
}

// ---- projection ----

TEST_F(AnalyticsTest, OrderCreatedStoresDayHourTotalsAndMergedLines) {
  Json e = created(
      "o-1", "cust-1", "2026-01-05T23:59:59+00:00",
      Json::array({item("p-mug", 2, 19.99), item("p-mug", 1, 19.99), item("p-lamp", 1, 49.99)}),
      109.96);
  sendOk("OrderCreated", e);
  const auto& o = model_.orders.at("o-1");
  EXPECT_TRUE(o.created);
  EXPECT_EQ(o.day, "2026-01-05");
  EXPECT_EQ(o.hour, 23);
  EXPECT_EQ(o.total, 10996);
  EXPECT_EQ(o.itemCount, 4);
  EXPECT_EQ(Json::parse(o.items).size(), 3u);
  ASSERT_EQ(model_.lines.size(), 2u);
  EXPECT_EQ(model_.lines.at({"o-1", "p-mug"}).quantity, 3);
  EXPECT_EQ(model_.lines.at({"o-1", "p-mug"}).cents, 5997);
}

TEST_F(AnalyticsTest, LineTotalFallsBackToQuantityTimesUnitPrice) {
  Json e = example("o-1");
  e["items"][0].erase("lineTotal");
  e.erase("totalAmount");
  sendOk("OrderCreated", e);
  EXPECT_EQ(model_.lines.at({"o-1", "p-mug"}).cents, 3998);
  EXPECT_EQ(model_.orders.at("o-1").total, 8997);
}

TEST_F(AnalyticsTest, MalformedEventsAreRejected) {
  std::vector<std::pair<std::string, Json>> cases;
  Json noCustomer = example("o-1");
  noCustomer.erase("customerId");
  cases.emplace_back("OrderCreated", noCustomer);
  Json noItems = example("o-1");
  noItems["items"] = Json::array();
  cases.emplace_back("OrderCreated", noItems);
  Json badProduct = example("o-1");
  badProduct["items"][0]["productId"] = "no spaces";
  cases.emplace_back("OrderCreated", badProduct);
  Json badQty = example("o-1");
  badQty["items"][0]["quantity"] = -2;
  cases.emplace_back("OrderCreated", badQty);
  Json noPrice = example("o-1");
  noPrice["items"][0].erase("lineTotal");
  noPrice["items"][0].erase("unitPrice");
  cases.emplace_back("OrderCreated", noPrice);
  Json badTotal = example("o-1");
  badTotal["totalAmount"] = 1.234;
  cases.emplace_back("OrderCreated", badTotal);
  Json badTime = example("o-1");
  badTime["createdAt"] = "2026-02-30T00:00:00Z";
  cases.emplace_back("OrderCreated", badTime);
  Json badCancelTime = cancelled("o-1");
  badCancelTime["cancelledAt"] = "later";
  cases.emplace_back("OrderCancelled", badCancelTime);
  cases.emplace_back("OrderCancelled", Json{{"orderId", "bad id"}});
  cases.emplace_back("OrderCreated", Json::array());
  cases.emplace_back("PaymentProcessed", cancelled("o-1"));
  for (const auto& [type, payload] : cases) {
    auto out = send(type, payload);
    EXPECT_EQ(out.status, Status::Reject) << type << " " << payload.dump();
  }
  for (const auto& [id, o] : model_.orders) {
    EXPECT_FALSE(o.created);
    EXPECT_FALSE(o.cancelled);
  }
}

TEST_F(AnalyticsTest, DatabaseFailureIsRetried) {
  model_.failAll = true;
  EXPECT_EQ(send("OrderCreated", example("o-1")).status, Status::Retry);
}

// ---- reports ----

TEST_F(AnalyticsTest, DailyReportCountsCancelledAndDistinctCustomers) {
  sendOk("OrderCreated", example("o-1", "cust-1", "2026-01-05T10:15:00Z"));
  sendOk("OrderCreated", example("o-2", "cust-1", "2026-01-05T11:00:00Z"));  // same customer
  sendOk("OrderCreated", created("o-3", "cust-2", "2026-01-05T12:00:00Z",
                                 Json::array({item("p-pen", 5, 1.50)}), 7.50));
  sendOk("OrderCreated", example("o-4", "cust-3", "2026-01-04T09:00:00Z"));
  sendOk("OrderCancelled", cancelled("o-2"));
  auto out = get(*daily_, "startDate=2026-01-01&endDate=2026-01-05");
  ASSERT_EQ(out.httpStatus, 200) << out.body;
  const Json days = out.json();
  ASSERT_TRUE(days.is_array());
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(days[0], (Json{{"date", "2026-01-05"},
                           {"totalOrders", 3},
                           {"cancelledOrders", 1},
                           {"totalRevenue", 97.47},
                           {"totalItemsSold", 8},
                           {"avgOrderValue", 48.74},
                           {"uniqueCustomers", 2}}));
  EXPECT_EQ(days[1]["date"], "2026-01-04");  // date DESC
  EXPECT_EQ(days[1]["totalRevenue"].dump(), "89.97");
  EXPECT_EQ(days[1]["avgOrderValue"].dump(), "89.97");
}

TEST_F(AnalyticsTest, DuplicatesAndCancelBeforeCreateCountOnce) {
  sendOk("OrderCancelled", cancelled("o-1"));  // before its creation
  sendOk("OrderCreated", example("o-1"));
  sendOk("OrderCreated", example("o-1"));
  sendOk("OrderCancelled", cancelled("o-1"));
  sendOk("OrderCreated", example("o-2"));
  sendOk("OrderCreated", example("o-2"));
  const Json days = get(*daily_, "startDate=2026-01-05&endDate=2026-01-05").json();
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0]["totalOrders"], 2);
  EXPECT_EQ(days[0]["cancelledOrders"], 1);
  EXPECT_EQ(days[0]["totalRevenue"].dump(), "89.97");
  EXPECT_EQ(days[0]["totalItemsSold"], 3);
  const Json top = get(*top_, "startDate=2026-01-05&endDate=2026-01-05").json();
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0]["timesOrdered"], 1);  // o-1 is cancelled, o-2 counted once
}

TEST_F(AnalyticsTest, AllCancelledDayHasZeroRevenueAndAverage) {
  sendOk("OrderCreated", example("o-1"));
  sendOk("OrderCancelled", cancelled("o-1"));
  const Json days = get(*daily_, "startDate=2026-01-05&endDate=2026-01-05").json();
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0]["totalOrders"], 1);
  EXPECT_EQ(days[0]["cancelledOrders"], 1);
  EXPECT_EQ(days[0]["totalRevenue"], 0);
  EXPECT_EQ(days[0]["avgOrderValue"], 0);
  EXPECT_EQ(days[0]["totalItemsSold"], 0);
}

TEST_F(AnalyticsTest, DailyDefaultRangeIsTheLast30DaysIncludingToday) {
  auto out = get(*daily_, "");
  EXPECT_EQ(out.httpStatus, 200);
  EXPECT_EQ(out.json(), Json::array());
  EXPECT_EQ(lastStatement().params.at(0).asText(), "2025-12-07");
  EXPECT_EQ(lastStatement().params.at(1).asText(), "2026-01-05");
}

TEST_F(AnalyticsTest, LeapDayRangesWork) {
  sendOk("OrderCreated", example("o-1", "cust-1", "2024-02-29T08:00:00Z"));
  sendOk("OrderCreated", example("o-2", "cust-1", "2024-03-01T08:00:00Z"));
  const Json days = get(*daily_, "startDate=2024-02-29&endDate=2024-02-29").json();
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0]["date"], "2024-02-29");
  EXPECT_EQ(get(*hourly_, "date=2024-02-29").json().at(0)["hour"], 8);
}

TEST_F(AnalyticsTest, BadDatesAre400WithAnError) {
  for (const char* q : {"startDate=2026-13-01", "endDate=2026-02-30", "startDate=yesterday",
                        "startDate=", "endDate=2026-1-5", "startDate=2026-01-05&endDate=2026-01-04",
                        "startDate=2023-02-29"}) {
    auto d = get(*daily_, q);
    EXPECT_EQ(d.httpStatus, 400) << q;
    EXPECT_TRUE(d.json().contains("error")) << q;
    auto t = get(*top_, q);
    EXPECT_EQ(t.httpStatus, 400) << q;
    EXPECT_TRUE(t.json().contains("error")) << q;
  }
  for (const char* q : {"date=2026-02-30", "date=", "date=today", "date=2026-01-05T00:00:00Z"}) {
    auto h = get(*hourly_, q);
    EXPECT_EQ(h.httpStatus, 400) << q;
    EXPECT_TRUE(h.json().contains("error")) << q;
  }
}

TEST_F(AnalyticsTest, HourlyReportForOneDayHourAscending) {
  sendOk("OrderCreated", example("o-1", "cust-1", "2026-01-05T14:10:00Z"));
  sendOk("OrderCreated", example("o-2", "cust-2", "2026-01-05T09:59:59Z"));
  sendOk("OrderCreated", example("o-3", "cust-3", "2026-01-05T14:50:00Z"));
  sendOk("OrderCreated", example("o-4", "cust-3", "2026-01-06T09:00:00Z"));  // other day
  sendOk("OrderCancelled", cancelled("o-3"));
  auto out = get(*hourly_, "date=2026-01-05");
  ASSERT_EQ(out.httpStatus, 200) << out.body;
  EXPECT_EQ(out.json(),
            (Json::array({Json{{"hour", 9}, {"totalOrders", 1}, {"totalRevenue", 89.97}},
                          Json{{"hour", 14}, {"totalOrders", 2}, {"totalRevenue", 89.97}}})));
}

TEST_F(AnalyticsTest, HourlyDefaultsToTodayUtc) {
  host_.setNowMs(*plexus::rfc3339::parse("2026-01-05T23:30:00Z"));
  sendOk("OrderCreated", example("o-1", "cust-1", "2026-01-05T23:10:00Z"));
  auto out = get(*hourly_, "");
  ASSERT_EQ(out.httpStatus, 200);
  EXPECT_EQ(lastStatement().params.at(0).asText(), "2026-01-05");
  EXPECT_EQ(out.json().at(0)["hour"], 23);
}

TEST_F(AnalyticsTest, TopProductsByRevenueWithLimit) {
  sendOk("OrderCreated", example("o-1", "cust-1"));  // mug 2 x 19.99, lamp 1 x 49.99
  sendOk("OrderCreated", created("o-2", "cust-2", "2026-01-05T12:00:00Z",
                                 Json::array({item("p-mug", 3, 19.99)}), 59.97));
  sendOk("OrderCreated", created("o-3", "cust-2", "2026-01-05T13:00:00Z",
                                 Json::array({item("p-pen", 1, 2.00)}), 2.00));
  sendOk("OrderCreated", created("o-4", "cust-3", "2026-01-05T14:00:00Z",
                                 Json::array({item("p-tv", 1, 999.00)}), 999.00));
  sendOk("OrderCancelled", cancelled("o-4"));  // cancelled: not a sale
  auto out = get(*top_, "startDate=2026-01-05&endDate=2026-01-05");
  ASSERT_EQ(out.httpStatus, 200) << out.body;
  const Json top = out.json();
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0], (Json{{"productId", "p-mug"},
                          {"timesOrdered", 2},
                          {"unitsSold", 5},
                          {"totalRevenue", 99.95},
                          {"avgRevenuePerOrder", 49.98}}));
  EXPECT_EQ(top[1]["productId"], "p-lamp");
  EXPECT_EQ(top[2]["productId"], "p-pen");
  EXPECT_EQ(lastStatement().params.at(2).asInt(), 10);  // default limit
  const Json one = get(*top_, "startDate=2026-01-05&endDate=2026-01-05&limit=1").json();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0]["productId"], "p-mug");
}

TEST_F(AnalyticsTest, TopProductsBadLimitIs400) {
  for (const char* q : {"limit=0", "limit=101", "limit=ten", "limit=", "limit=-5"}) {
    auto out = get(*top_, q);
    EXPECT_EQ(out.httpStatus, 400) << q;
    EXPECT_TRUE(out.json().contains("error")) << q;
  }
}

TEST_F(AnalyticsTest, ReportDatabaseFailureIs503) {
  model_.failAll = true;
  EXPECT_EQ(get(*daily_, "").httpStatus, 503);
  EXPECT_EQ(get(*hourly_, "").httpStatus, 503);
  EXPECT_EQ(get(*top_, "").httpStatus, 503);
}
