// The HTTP surface over loopback: the real server, the real runtime, real plugins.
#include "http/server.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "support.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

namespace {

using nlohmann::json;
using plexus::test::http;

class HttpSurface : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cfg_ = new plexus::config::Config(plexus::config::parse(
        R"({"service": "http-test", "http": {"host": "127.0.0.1", "port": 0, "max_body_bytes": 1024},
            "plugins": [{"library": ")" +
            plexus::test::testPlugin("testkit") +
            R"(", "config": {"greeting": "hi"}}, {"library": ")" + plexus::test::plugin("echo") +
            R"("}]})",
        "inline.json", [](const std::string&) { return std::nullopt; }));
    metrics_ = new plexus::Metrics;
    runtime_ = new plexus::plugin::Runtime(*metrics_);
    runtime_->start(*cfg_);
    server_ = new plexus::http::Server(*cfg_, *runtime_, *metrics_);
    server_->start();
    port_ = server_->port();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete runtime_;
    delete metrics_;
    delete cfg_;
  }
  static json body(const plexus::test::HttpResult& r) { return json::parse(r.body); }

  static plexus::config::Config* cfg_;
  static plexus::Metrics* metrics_;
  static plexus::plugin::Runtime* runtime_;
  static plexus::http::Server* server_;
  static int port_;
};
plexus::config::Config* HttpSurface::cfg_ = nullptr;
plexus::Metrics* HttpSurface::metrics_ = nullptr;
plexus::plugin::Runtime* HttpSurface::runtime_ = nullptr;
plexus::http::Server* HttpSurface::server_ = nullptr;
int HttpSurface::port_ = 0;

TEST_F(HttpSurface, HealthAndReadiness) {
  auto h = http(port_, "GET", "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(body(h)["status"], "ok");
  auto r = http(port_, "GET", "/health/ready");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["status"], "ready");
  EXPECT_EQ(body(r)["service"], "http-test");
}

TEST_F(HttpSurface, EchoRouteRunsTheReceptorLocally) {
  auto r = http(port_, "POST", "/api/echo", R"({"message": "hello"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["message"], "hello");
  EXPECT_EQ(body(r)["id"].get<std::string>().size(), 36u);
  auto bad = http(port_, "POST", "/api/echo", R"({"message": 5})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body(bad)["error"], "\"message\" must be a string");
}

TEST_F(HttpSurface, PathAndQueryParameters) {
  auto r = http(port_, "GET", "/api/echo/wo%20rd?times=2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["words"], json::array({"wo rd", "wo rd"}));
  EXPECT_EQ(http(port_, "GET", "/api/echo/x?times=zz").status, 400);
}

TEST_F(HttpSurface, PluginConfigReachesTheComponent) {
  auto r = http(port_, "GET", "/t/config");
  EXPECT_EQ(body(r)["greeting"], "hi");
}

TEST_F(HttpSurface, UnknownPathIs404Json) {
  auto r = http(port_, "GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body(r)["error"], "not found");
  EXPECT_EQ(r.headers["Content-Type"], "application/json");
}

TEST_F(HttpSurface, WrongMethodIs405WithAllow) {
  auto r = http(port_, "DELETE", "/api/echo");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "POST");
  EXPECT_EQ(body(r)["error"], "method not allowed");
  EXPECT_EQ(http(port_, "POST", "/health", "{}").status, 405);
}

TEST_F(HttpSurface, MalformedJsonIs400) {
  auto r = http(port_, "POST", "/api/echo", "{\"message\": ");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["error"], "request body ends before its JSON is complete (12 bytes)");
}

TEST_F(HttpSurface, WrongContentTypeIs415) {
  auto r =
      http(port_, "POST", "/api/echo", "message=hello", {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 415);
  EXPECT_TRUE(body(r).contains("error"));
}

TEST_F(HttpSurface, BodyAtTheLimitIsAccepted) {
  auto r = http(port_, "POST", "/t/size", std::string(1024, ' '));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["bytes"], 1024);
}

TEST_F(HttpSurface, OversizedBodyIs413AndTheClientSeesIt) {
  auto r = http(port_, "POST", "/t/size", std::string(1025, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(body(r)["error"].get<std::string>().find("1024"), std::string::npos);
  // A much larger body is read away too: still a clean 413, and the server stays healthy.
  auto big = http(port_, "POST", "/t/size", std::string(3 << 20, 'x'));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(http(port_, "GET", "/health").status, 200);
}

TEST_F(HttpSurface, OversizedChunkedBodyIs413) {
  Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port_));
  Poco::Net::HTTPRequest req("POST", "/t/size", Poco::Net::HTTPMessage::HTTP_1_1);
  req.setChunkedTransferEncoding(true);
  req.setContentType("application/json");
  std::ostream& os = s.sendRequest(req);
  os << std::string(5000, 'y');
  Poco::Net::HTTPResponse resp;
  std::istream& is = s.receiveResponse(resp);
  std::string text;
  Poco::StreamCopier::copyToString(is, text);
  EXPECT_EQ(resp.getStatus(), 413);
}

TEST_F(HttpSurface, ThrowingRouteIs500WithoutInternals) {
  auto r = http(port_, "GET", "/t/throw");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(body(r)["error"], "internal error");
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST_F(HttpSurface, ThrowingHandlerIsContainedAsReject) {
  auto r = http(port_, "POST", "/t/work", R"({"mode": "throw"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["status"], "reject");
  EXPECT_NE(body(r)["detail"].get<std::string>().find("handler blew up"), std::string::npos);
  auto odd = http(port_, "POST", "/t/work", R"({"mode": "throw-int"})");
  EXPECT_EQ(body(odd)["status"], "reject");
  EXPECT_EQ(http(port_, "GET", "/health").status, 200);
}

TEST_F(HttpSurface, HandlerStatusesReachTheCaller) {
  EXPECT_EQ(body(http(port_, "POST", "/t/work", R"({"mode": "retry"})"))["status"], "retry");
  EXPECT_EQ(body(http(port_, "POST", "/t/work", R"({"mode": "reject"})"))["status"], "reject");
  auto ok = body(http(port_, "POST", "/t/work", R"({"mode": "ok"})"));
  EXPECT_EQ(ok["status"], "ok");
  EXPECT_EQ(json::parse(ok["detail"].get<std::string>())["stream"], "stream-7");
}

TEST_F(HttpSurface, EmitWithoutAStoreFailsLoudly) {
  // A host without a store cannot keep an event: emit must fail, never silently drop it.
  auto r = body(http(port_, "POST", "/t/work", R"({"mode": "emit"})"));
  EXPECT_EQ(r["status"], "fatal");
  EXPECT_NE(r["detail"].get<std::string>().find("needs a store"), std::string::npos);
}

TEST_F(HttpSurface, RequestIdIsEchoedOrGenerated) {
  auto given =
      http(port_, "GET", "/t/echo-headers?a=1", "", {{"X-Request-Id", "abc-123"}, {"X-Test", "v"}});
  EXPECT_EQ(given.headers["X-Request-Id"], "abc-123");
  EXPECT_EQ(body(given)["requestId"], "abc-123");
  EXPECT_EQ(body(given)["xTest"], "v");
  EXPECT_EQ(body(given)["query"], "a=1");
  EXPECT_EQ(given.headers["X-Testkit"], "yes");
  auto generated =
      http(port_, "GET", "/t/echo-headers", "", {{"X-Request-Id", "bad id\twith tab"}});
  EXPECT_EQ(generated.headers["X-Request-Id"].size(), 36u);
}

TEST_F(HttpSurface, MetricsPassPromtool) {
  http(port_, "POST", "/api/echo", R"({"message": "count me"})");
  // The request is counted right after its response went out: poll (bounded) until it shows.
  const std::string series =
      "plexus_http_requests_total{code=\"200\",method=\"POST\",route=\"/api/echo\"}";
  auto m = http(port_, "GET", "/metrics");
  for (int i = 0; i < 100 && m.body.find(series) == std::string::npos; ++i)
    m = http(port_, "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.headers["Content-Type"].find("text/plain"), std::string::npos);
  EXPECT_NE(m.body.find("echo_messages_total"), std::string::npos);
  EXPECT_NE(
      m.body.find("plexus_http_requests_total{code=\"200\",method=\"POST\",route=\"/api/echo\"}"),
      std::string::npos);
  plexus::test::TempDir dir;
  const std::string file = dir.write("metrics.txt", m.body);
  const std::string cmd = "promtool check metrics < " + file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int rc = pclose(p);
  EXPECT_EQ(rc, 0) << "promtool (Debian package prometheus) said:\n" << out;
}

// Last in the suite: FATAL flips readiness for good.
TEST_F(HttpSurface, ZzFatalMakesTheHostNotReady) {
  auto r = http(port_, "POST", "/t/fatal", "{}");
  EXPECT_EQ(body(r)["status"], "fatal");
  auto ready = http(port_, "GET", "/health/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(body(ready)["checks"]["plugins"], "failed");
  const std::string reasons = body(ready)["reasons"].dump();
  // Run alone (as ctest does) the reason is this one; in one process an earlier FATAL may come
  // first.
  EXPECT_TRUE(reasons.find("plugin state corrupt") != std::string::npos ||
              reasons.find("needs a store") != std::string::npos)
      << reasons;
  EXPECT_EQ(http(port_, "GET", "/health").status, 200);  // liveness is unaffected
}

}  // namespace
