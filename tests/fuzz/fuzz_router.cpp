// HTTP router and query strings (host/src/http/router.cpp, the SDK's Request::query): the first
// line is a request "METHOD /path?query"; every further line "METHOD /template" is added to a
// router that already holds every ECommerce route. Invariants: a match has one decoded, non-empty
// value per template parameter; 405 lists other methods only; a bad template is refused with a
// reason; and a request that matches an ECommerce route is answered by that route (through the SDK
// barrier, query parsing included) with 2xx/4xx, never 500.
#include "ecommerce_routes.hpp"
#include "http/router.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

size_t paramCount(const std::string& tmpl) {
  std::vector<std::string> segs;
  plexus::http::Router::split(tmpl, segs);
  return static_cast<size_t>(std::count_if(segs.begin(), segs.end(), [](const std::string& s) {
    return s.size() > 2 && s.front() == '{' && s.back() == '}';
  }));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace plexus::fuzz;
  const std::vector<std::string> ls = lines(std::string(reinterpret_cast<const char*>(data), size));
  const auto& routes = ecommerceRoutes();

  plexus::http::Router router;
  std::vector<std::string> templates;  // by route index
  std::string error;
  for (size_t i = 0; i < routes.size(); ++i) {
    FUZZ_CHECK(router.add(routes[i].method, routes[i].path, i, error), error);
    templates.emplace_back(routes[i].path);
  }
  for (size_t i = 1; i < ls.size() && i < 16; ++i) {
    const size_t sp = ls[i].find(' ');
    const std::string method = ls[i].substr(0, sp);
    const std::string tmpl = sp == std::string::npos ? std::string() : ls[i].substr(sp + 1);
    error.clear();
    if (router.add(method, tmpl, templates.size(), error)) {
      templates.push_back(tmpl);
    } else {
      FUZZ_CHECK(!error.empty(), "template refused without a reason: " + tmpl);
    }
  }

  const std::string& requestLine = ls[0];
  const size_t sp = requestLine.find(' ');
  const std::string method = requestLine.substr(0, sp);
  const std::string uri = sp == std::string::npos ? std::string() : requestLine.substr(sp + 1);
  const size_t q = uri.find('?');
  const std::string path = uri.substr(0, q);
  const std::string query = q == std::string::npos ? std::string() : uri.substr(q + 1);

  const auto m = router.match(method, path);
  const auto again = router.match(method, path);
  FUZZ_CHECK(m.kind == again.kind && m.route == again.route && m.params == again.params, path);
  using Kind = plexus::http::Router::Match::Kind;
  if (m.kind == Kind::MethodNotAllowed) {
    FUZZ_CHECK(!m.allowed.empty(), path);
    FUZZ_CHECK(std::find(m.allowed.begin(), m.allowed.end(), method) == m.allowed.end(), method);
  }
  if (m.kind != Kind::Found) return 0;
  FUZZ_CHECK(m.route < templates.size(), std::to_string(m.route));
  FUZZ_CHECK(m.params.size() == paramCount(templates[m.route]), templates[m.route]);
  for (const auto& [name, value] : m.params) FUZZ_CHECK(!value.empty(), name);
  if (m.route >= routes.size()) return 0;

  // The route itself: path parameters from the router, the raw query as the host hands it over.
  TestRequest rq;
  rq.method = method;
  rq.path = path;
  rq.query = query;
  for (const auto& [name, value] : m.params) rq.params[name] = value;
  if (method == "POST" || method == "PUT") {
    rq.body = R"({"availableStock": 5, "trackingNumber": "1Z999", "status": "InTransit"})";
  }
  checkAnswer(routes[m.route], rq, routes[m.route].run(rq));
  return 0;
}
