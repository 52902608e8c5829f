#pragma once
// The ECommerce plugins' HTTP routes, driven through the SDK's FakeHost exactly as the host drives
// them (the same C ABI barrier). Statements succeed (SELECTs return no rows, except the shipment
// lookup of the tracking webhook, so it gets past it); routes that invoke a local receptor run the
// real receptor, as the host does.
#include <plexus/sdk/testing.hpp>

#include "analytics.hpp"
#include "customers.hpp"
#include "fuzz_support.hpp"
#include "inventory.hpp"
#include "order_saga.hpp"
#include "orders.hpp"
#include "shipping.hpp"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace plexus::fuzz {

using testing::FakeHost;
using testing::HandleOutcome;
using testing::HttpOutcome;
using testing::SqlAnswer;
using testing::Statement;
using testing::TestRequest;

// Answers the routes' statements: writes succeed; SELECTs find nothing, except the shipment
// lookup of the tracking webhook (so it gets past it) and inventory products written earlier in
// the same request (so PUT /api/inventory sees its own upsert, as on a real database).
class FakeDb {
 public:
  SqlAnswer run(const Statement& st) {
    SqlAnswer a;
    if (st.sql.rfind("SELECT order_id, shipment_id FROM shipping_shipments", 0) == 0) {
      a.rows.push_back({Value(std::string("00000000-0000-7000-8000-0000000000aa")),
                        Value(std::string("00000000-0000-7000-8000-0000000000bb"))});
      return a;
    }
    if (st.sql == inventory::sql::kSelectProduct) {
      auto it = products_.find(st.params.at(0).asText());
      if (it != products_.end()) {
        a.rows.push_back({Value(it->first), Value(static_cast<long long>(it->second)), Value(0),
                          Value(static_cast<long long>(1767225600000))});
      }
      return a;
    }
    if (st.sql == inventory::sql::kSetStock || st.sql == inventory::sql::kAddStock) {
      products_[st.params.at(0).asText()] += st.params.at(1).asInt();
    }
    if (st.sql.rfind("SELECT", 0) != 0) a.affected = 1;
    return a;
  }

 private:
  std::map<std::string, int64_t> products_;
};

template <class R>
HttpOutcome callRouteWithConfig(const TestRequest& rq, const std::string& config) {
  FakeHost host(config);
  FakeDb db;
  host.onSql([&db](const Statement& st) { return db.run(st); });
  auto route = host.create<R>();
  return host.request(*route, rq);
}

template <class R>
HttpOutcome callRoute(const TestRequest& rq) {
  return callRouteWithConfig<R>(rq, "{}");
}

// A route that invokes receptor `Rc` locally (POST /api/orders, PUT /api/inventory/{id}).
template <class R, class Rc>
HttpOutcome callInvoking(const TestRequest& rq) {
  FakeHost host;
  FakeDb db;
  host.onSql([&db](const Statement& st) { return db.run(st); });
  auto receptor = host.create<Rc>();
  host.onInvoke([&](const std::string& type, const Json& payload) {
    std::string stream;
    for (const char* key : {"orderId", "productId"}) {
      auto it = payload.find(key);
      if (it != payload.end() && it->is_string()) stream = it->get<std::string>();
    }
    auto out = host.handle(*receptor, testing::message(type, payload, stream));
    return HandleOutcome{out.status, out.detail};
  });
  auto route = host.create<R>();
  return host.request(*route, rq);
}

// The tracking webhook answers 401 to anything unsigned: sign every input with the configured
// secret (at FakeHost's clock) so the fuzzer reaches the body parsing behind the check.
inline HttpOutcome callSignedWebhook(const TestRequest& in) {
  static const std::string kSecret = "fuzz-webhook-secret-0123456789abcdef";
  static const std::string kNowSeconds = "1767225600";
  TestRequest rq = in;
  rq.headers["X-Webhook-Timestamp"] = kNowSeconds;
  rq.headers["X-Webhook-Signature"] =
      "sha256=" + shipping::toHex(shipping::hmacSha256(kSecret, kNowSeconds + "." + rq.body));
  return callRouteWithConfig<shipping::FedexTrackingWebhook>(
      rq, Json{{"webhook_secret", kSecret}}.dump());
}

struct RouteCase {
  const char* method;
  const char* path;  // template, as registered
  HttpOutcome (*run)(const TestRequest&);
};

// Every route of the ECommerce plugins (plugins/*/src/plugin.cpp).
inline const std::vector<RouteCase>& ecommerceRoutes() {
  static const std::vector<RouteCase> routes{
      {"GET", "/api/analytics/sales/daily", &callRoute<analytics::GetDailySales>},
      {"GET", "/api/analytics/sales/hourly", &callRoute<analytics::GetHourlySales>},
      {"GET", "/api/analytics/products/top", &callRoute<analytics::GetTopProducts>},
      {"GET", "/api/customers/{id}", &callRoute<customers::GetCustomer>},
      {"GET", "/api/customers/{id}/orders", &callRoute<customers::GetCustomerOrders>},
      {"GET", "/api/inventory/{productId}", &callRoute<inventory::GetInventory>},
      {"PUT", "/api/inventory/{productId}",
       &callInvoking<inventory::PutInventory, inventory::RestockInventory>},
      {"GET", "/api/sagas/{orderId}", &callRoute<order_saga::GetSaga>},
      {"POST", "/api/orders", &callInvoking<orders::PostOrder, orders::CreateOrder>},
      {"GET", "/api/orders/{id}", &callRoute<orders::GetOrder>},
      {"POST", "/api/webhooks/fedex/tracking", &callSignedWebhook},
  };
  return routes;
}

// What any input may get: an answer the client can act on. 500 means the plugin failed on input
// it should have refused with 400 (or its own validation and its receptor's disagree); 503 cannot
// happen with statements that all succeed.
inline void checkAnswer(const RouteCase& rc, const TestRequest& rq, const HttpOutcome& out) {
  const std::string where = std::string(rc.method) + " " + rc.path + " -> " +
                            std::to_string(out.httpStatus) + " " + out.body;
  // PLEXUS_FUZZ_VERBOSE=1 shows what each input got (to check a corpus reaches the routes).
  static const bool verbose = std::getenv("PLEXUS_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    std::fprintf(stderr, "  %s%s%s\n", where.c_str(),
                 rq.query.empty() ? "" : " query=", rq.query.c_str());
  FUZZ_CHECK(out.httpStatus >= 200 && out.httpStatus < 500, where);
  FUZZ_CHECK(out.httpStatus == 204 || !Json::parse(out.body, nullptr, false).is_discarded(), where);
}

}  // namespace plexus::fuzz
