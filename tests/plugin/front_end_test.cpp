// The HTTP front end over loopback with the real server and real plugins: the management port,
// framing (no body without framing, pipelining, 100-continue), whole-phase deadlines and the
// per-client connection cap. Raw sockets, because client libraries will not misbehave on purpose.
#include "../support/wait.hpp"
#include "http/server.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

namespace {

using nlohmann::json;
using plexus::test::http;
using plexus::test::RawConnection;
using Clock = std::chrono::steady_clock;
using plexus::test::msSince;

class FrontEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cfg_ = new plexus::config::Config(plexus::config::parse(
        R"({"service": "front-end-test",
            "http": {"host": "127.0.0.1", "port": 0, "management_port": 0, "max_body_bytes": 1024,
                     "header_timeout_ms": 600, "body_timeout_ms": 600, "request_timeout_ms": 1500,
                     "keep_alive_seconds": 5, "limits": {"max_connections_per_client": 8}},
            "plugins": [{"library": ")" +
            plexus::test::testPlugin("testkit") + R"("}, {"library": ")" +
            plexus::test::plugin("echo") + R"("}]})",
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
  static std::string metric(const std::string& series) {
    const std::string text = http(port_, "GET", "/metrics").body;
    const size_t at = text.find(series + " ");
    return at == std::string::npos ? "" : text.substr(at + series.size() + 1, 12);
  }

  static plexus::config::Config* cfg_;
  static plexus::Metrics* metrics_;
  static plexus::plugin::Runtime* runtime_;
  static plexus::http::Server* server_;
  static int port_;
};
plexus::config::Config* FrontEnd::cfg_ = nullptr;
plexus::Metrics* FrontEnd::metrics_ = nullptr;
plexus::plugin::Runtime* FrontEnd::runtime_ = nullptr;
plexus::http::Server* FrontEnd::server_ = nullptr;
int FrontEnd::port_ = 0;

TEST_F(FrontEnd, ManagementPortServesProbesAndMetricsOnly) {
  const int m = server_->managementPort();
  ASSERT_NE(m, 0);
  ASSERT_NE(m, port_);
  EXPECT_EQ(http(m, "GET", "/health").status, 200);
  EXPECT_EQ(http(m, "GET", "/health/ready").status, 200);
  const auto scrape = http(m, "GET", "/metrics");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.body.find("plexus_http_connections_open"), std::string::npos);
  EXPECT_EQ(http(m, "POST", "/api/echo", R"({"message": "x"})").status, 404);
  EXPECT_EQ(http(m, "GET", "/admin/dead-letters").status, 404);
  EXPECT_EQ(http(m, "POST", "/health", "{}").status, 405);
  // The main port keeps serving them too.
  EXPECT_EQ(http(port_, "GET", "/health").status, 200);
  EXPECT_EQ(http(port_, "GET", "/metrics").status, 200);
  EXPECT_EQ(http(port_, "POST", "/api/echo", R"({"message": "x"})").status, 200);
}

// Issue 16, defect 2: `curl -X POST URL` (no Content-Length, no Transfer-Encoding) has no body and
// is answered at once; it used to wait 30 s for a body that never comes.
TEST_F(FrontEnd, PostWithoutFramingIsAnsweredAtOnce) {
  RawConnection c(port_);
  const auto t = Clock::now();
  ASSERT_TRUE(c.send("POST /api/echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto r = c.read(5000);  // far below the old 30 s
  std::printf("[figure] POST without framing answered in %.1f ms\n", msSince(t));
  EXPECT_EQ(r.status, 400) << r.body;  // the echo route's own verdict on an empty body
  EXPECT_TRUE(r.headers.count("X-Request-Id"));
}

TEST_F(FrontEnd, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  RawConnection c(port_);
  std::string batch;
  for (int i = 0; i < 3; ++i)
    batch += "GET /t/echo-headers?n=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  batch += "POST /t/size HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  ASSERT_TRUE(c.send(batch));
  for (int i = 0; i < 3; ++i) {
    const auto r = c.read();
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(json::parse(r.body)["query"], "n=" + std::to_string(i));
  }
  const auto last = c.read();
  ASSERT_EQ(last.status, 200);
  EXPECT_EQ(json::parse(last.body)["bytes"], 2);
}

TEST_F(FrontEnd, ExpectContinueWithinTheLimitThenOverIt) {
  RawConnection c(port_);
  ASSERT_TRUE(
      c.send("POST /t/size HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 4\r\n"
             "Expect: 100-continue\r\n\r\n"));
  EXPECT_EQ(c.read().status, 100);
  ASSERT_TRUE(c.send("[12]"));
  const auto ok = c.read();
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body)["bytes"], 4);
  // Over the limit: 413 at once, no 100 Continue, and the connection closes.
  ASSERT_TRUE(
      c.send("POST /t/size HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto big = c.read();
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.headers["Connection"], "close");
  EXPECT_TRUE(c.waitClosed());
}

TEST_F(FrontEnd, HeadDeadlineIsForTheWholeHeadNotPerRead) {
  RawConnection c(port_);
  const auto t = Clock::now();
  // A byte every 100 ms never lets a per-read timeout fire; the whole-head deadline (600 ms) does.
  const std::string head = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  plexus::test::HttpResult r;
  for (size_t i = 0; i < head.size() + 100 && r.status == 0; ++i) {
    if (!c.send(i < head.size() ? head.substr(i, 1) : "a")) break;
    r = c.read(100);
  }
  if (r.status == 0) r = c.read(5000);
  std::printf("[figure] trickled head cut off after %.0f ms (deadline 600 ms)\n", msSince(t));
  EXPECT_EQ(r.status, 408);
  EXPECT_NE(r.body.find("request head not received within 600 ms"), std::string::npos) << r.body;
  EXPECT_TRUE(c.waitClosed());
  EXPECT_LT(msSince(t), 5000);
}

TEST_F(FrontEnd, BodyDeadlineIsForTheWholeBody) {
  RawConnection c(port_);
  ASSERT_TRUE(c.send(
      "POST /t/size HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"));
  const auto t = Clock::now();
  const auto r = c.read(5000);
  std::printf("[figure] stalled body cut off after %.0f ms (deadline 600 ms)\n", msSince(t));
  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(c.waitClosed());
}

TEST_F(FrontEnd, HandlerDeadlineAnswers503AndTheHostGoesOn) {
  RawConnection c(port_);
  const auto t = Clock::now();
  ASSERT_TRUE(c.send("GET /t/slow?ms=4000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto r = c.read(10000);
  std::printf("[figure] slow handler answered 503 after %.0f ms (deadline 1500 ms)\n", msSince(t));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("request deadline of 1500 ms"), std::string::npos) << r.body;
  EXPECT_LT(msSince(t), 3900);
  EXPECT_EQ(http(port_, "GET", "/health").status, 200);
}

TEST_F(FrontEnd, PerClientCapRefusesWith503AndCountsIt) {
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 8; ++i) held.push_back(std::make_unique<RawConnection>(port_, "127.0.0.9"));
  // The ninth from the same address is refused with a reason, and counted.
  RawConnection ninth(port_, "127.0.0.9");
  const auto refused = ninth.read(5000);
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("too many connections"), std::string::npos);
  // Another client is unaffected, and the held connections still work.
  RawConnection other(port_, "127.0.0.10");
  ASSERT_TRUE(other.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(other.read().status, 200);
  ASSERT_TRUE(held[0]->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(held[0]->read().status, 200);
  EXPECT_NE(metric("plexus_http_connections_refused_total{reason=\"per_client\"}"), "0");
  EXPECT_NE(metric("plexus_http_connections_refused_total{reason=\"per_client\"}"), "");
}

TEST_F(FrontEnd, MalformedAndOversizedHeadsGetTheirStatusAndClose) {
  struct Case {
    std::string request;
    int status;
  };
  const Case cases[] = {
      {"GET /" + std::string(100 << 10, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nX-Big: " + std::string(100 << 10, 'b') + "\r\n\r\n", 431},
      {"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"BROKEN\r\n\r\n", 400},
  };
  for (const Case& k : cases) {
    RawConnection c(port_);
    c.send(k.request);
    const auto r = c.read();
    EXPECT_EQ(r.status, k.status) << k.request.substr(0, 40);
    EXPECT_TRUE(json::parse(r.body, nullptr, false).contains("error")) << r.body;
    EXPECT_TRUE(c.waitClosed());
  }
  EXPECT_EQ(http(port_, "GET", "/health").status, 200);
}

}  // namespace
