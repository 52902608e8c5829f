// Every ECommerce route that takes a JSON body (POST /api/orders, PUT /api/inventory/{productId},
// POST /api/webhooks/fedex/tracking), through the real route code and the SDK barrier. The first
// byte picks the route ('0' orders, '1' inventory, '2' shipping webhook; any byte works modulo 3);
// the rest is the body. Any body must get 2xx or 4xx with a JSON body, never 500.
#include "ecommerce_routes.hpp"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace plexus::fuzz;
  if (size == 0) return 0;
  static const struct {
    const char* method;
    const char* path;
    const char* actualPath;
    const char* paramName;
    const char* paramValue;
  } kBodyRoutes[] = {
      {"POST", "/api/orders", "/api/orders", nullptr, nullptr},
      {"PUT", "/api/inventory/{productId}", "/api/inventory/widget-1", "productId", "widget-1"},
      {"POST", "/api/webhooks/fedex/tracking", "/api/webhooks/fedex/tracking", nullptr, nullptr},
  };
  const auto& pick = kBodyRoutes[data[0] % 3];
  const RouteCase* rc = nullptr;
  for (const auto& r : ecommerceRoutes()) {
    if (std::string(r.method) == pick.method && std::string(r.path) == pick.path) rc = &r;
  }
  FUZZ_CHECK(rc != nullptr, pick.path);
  TestRequest rq;
  rq.method = pick.method;
  rq.path = pick.actualPath;
  rq.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  rq.headers["Content-Type"] = "application/json";
  if (pick.paramName != nullptr) rq.params[pick.paramName] = pick.paramValue;
  checkAnswer(*rc, rq, rc->run(rq));
  return 0;
}
