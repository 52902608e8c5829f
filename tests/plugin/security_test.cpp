// Auth, rate limit and header limit on the real host binary over loopback (plugin tier): tokens
// minted with Poco JWT against a host configured from a file, secrets from the environment.
#include "config/config.hpp"
#include "jwt_support.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>

namespace {

using nlohmann::json;
using plexus::test::HostProcess;
using plexus::test::http;
using plexus::test::TempDir;
namespace jwt = plexus::test::jwt;

const std::string kSecret = "plugin-tier-secret-0123456789abcdef";

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json claims(json extra = json::object()) {
  json c{{"iss", "https://issuer.test"}, {"aud", "plexus"}, {"sub", "alice"}, {"exp", now() + 300}};
  for (auto it = extra.begin(); it != extra.end(); ++it) c[it.key()] = it.value();
  return c;
}

std::string hostConfig(const json& http) {
  json doc{{"service", "security-test"},
           {"http", http},
           {"plugins", json::array({json{{"library", plexus::test::testPlugin("testkit")}}})}};
  doc["http"]["host"] = "127.0.0.1";
  doc["http"]["port"] = 0;
  return doc.dump();
}

class AuthHost : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    rsa_ = new jwt::Rsa(jwt::newRsa());
    const std::string pem = dir_->write("issuer.pem", rsa_->publicPem);
    // /t: HS256 or RS256; /t/config: RS256 only and the "config:read" scope.
    const json auth{{"enabled", true},
                    {"groups",
                     {{{"prefix", "/t"},
                       {"issuer", "https://issuer.test"},
                       {"audience", "plexus"},
                       {"algorithms", {"HS256", "RS256"}},
                       {"hs256_secret", "${TEST_JWT_SECRET}"},
                       {"rs256_public_key_file", pem},
                       {"clock_skew_seconds", 5}},
                      {{"prefix", "/t/config"},
                       {"issuer", "https://issuer.test"},
                       {"audience", "plexus"},
                       {"algorithms", {"RS256"}},
                       {"rs256_public_key_file", pem},
                       {"required_scopes", {"config:read"}}}}}};
    const std::string cfg = dir_->write("host.json", hostConfig({{"auth", auth}}));
    host_ = new HostProcess(cfg, {{"TEST_JWT_SECRET", kSecret}});
  }
  static void TearDownTestSuite() {
    delete host_;
    delete rsa_;
    delete dir_;
  }
  static plexus::test::HttpResult get(const std::string& path, const std::string& token) {
    std::map<std::string, std::string> h;
    if (!token.empty()) h["Authorization"] = "Bearer " + token;
    return http(host_->port(), "GET", path, "", h);
  }
  static void expectJson401(const plexus::test::HttpResult& r, const std::string& error) {
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(json::parse(r.body, nullptr, false).value("error", ""), error) << r.body;
    ASSERT_TRUE(r.headers.count("WWW-Authenticate")) << r.body;
    EXPECT_EQ(r.headers.at("WWW-Authenticate").rfind("Bearer realm=\"security-test\"", 0), 0u);
    EXPECT_TRUE(r.headers.count("X-Request-Id"));
  }

  static TempDir* dir_;
  static jwt::Rsa* rsa_;
  static HostProcess* host_;
};
TempDir* AuthHost::dir_ = nullptr;
jwt::Rsa* AuthHost::rsa_ = nullptr;
HostProcess* AuthHost::host_ = nullptr;

TEST_F(AuthHost, ValidTokensReachTheRoute) {
  auto r = get("/t/echo-headers?x=1", jwt::signHs256(claims(), kSecret));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["query"], "x=1");
  r = get("/t/echo-headers", jwt::signRs256(claims(), *rsa_));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(AuthHost, HealthAndMetricsNeedNoToken) {
  EXPECT_EQ(get("/health", "").status, 200);
  EXPECT_EQ(get("/health/ready", "").status, 200);
  EXPECT_EQ(get("/metrics", "").status, 200);
}

TEST_F(AuthHost, MissingBadExpiredAndForgedTokensAre401Json) {
  expectJson401(get("/t/echo-headers", ""), "missing bearer token");
  expectJson401(get("/t/echo-headers", "not-a-jwt"), "malformed token");
  expectJson401(get("/t/echo-headers", jwt::signHs256(claims({{"exp", now() - 60}}), kSecret)),
                "token expired");
  expectJson401(get("/t/echo-headers", jwt::signHs256(claims({{"nbf", now() + 120}}), kSecret)),
                "token not yet valid");
  expectJson401(get("/t/echo-headers", jwt::signHs256(claims({{"iss", "https://evil"}}), kSecret)),
                "wrong token issuer");
  expectJson401(get("/t/echo-headers", jwt::signHs256(claims({{"aud", "other"}}), kSecret)),
                "wrong token audience");
  expectJson401(get("/t/echo-headers", jwt::signHs256(claims(), kSecret + "x")),
                "bad token signature");
  // alg none, and key confusion: HS256 with the (public) RS256 key as the HMAC secret.
  expectJson401(get("/t/echo-headers", jwt::unsignedToken({{"alg", "none"}}, claims())),
                "malformed token");
  expectJson401(get("/t/echo-headers", jwt::unsignedToken({{"alg", "none"}}, claims()) + "e30"),
                "token algorithm not allowed");
  expectJson401(get("/t/echo-headers", jwt::signHs256(claims(), rsa_->publicPem)),
                "bad token signature");
  expectJson401(get("/t/config", jwt::signHs256(claims(), rsa_->publicPem)),
                "token algorithm not allowed");
  // A refused POST with a body keeps the connection usable and never reaches the plugin.
  const auto r = http(host_->port(), "POST", "/t/size", R"({"a":1})");
  EXPECT_EQ(r.status, 401);
}

TEST_F(AuthHost, MissingScopeIs403Json) {
  auto r = get("/t/config", jwt::signRs256(claims({{"scope", "orders:read"}}), *rsa_));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"], "insufficient scope");
  EXPECT_NE(r.headers["WWW-Authenticate"].find("error=\"insufficient_scope\""), std::string::npos);
  r = get("/t/config", jwt::signRs256(claims({{"scope", "orders:read config:read"}}), *rsa_));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST(RateLimitHost, BurstThen429WithRetryAfterHealthExempt) {
  TempDir dir;
  HostProcess host(
      dir.write("host.json", hostConfig({{"limits", {{"rate_per_second", 1}, {"burst", 3}}}})));
  int ok = 0;
  plexus::test::HttpResult refused;
  // 1 token/s with a burst of 3: of 6 quick requests at least 3 pass and at least 2 are refused,
  // however slow this machine is (at most 1-2 s of refill between the first and the last).
  for (int i = 0; i < 6; ++i) {
    const auto r = http(host.port(), "GET", "/t/echo-headers");
    if (r.status == 200) ++ok;
    if (r.status == 429) refused = r;
  }
  EXPECT_GE(ok, 3);
  EXPECT_LE(ok, 4);
  ASSERT_EQ(refused.status, 429);
  EXPECT_EQ(json::parse(refused.body)["error"], "too many requests");
  ASSERT_TRUE(refused.headers.count("Retry-After"));
  EXPECT_GE(std::stoi(refused.headers["Retry-After"]), 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(http(host.port(), "GET", "/health").status, 200);
  // X-Forwarded-For is ignored by default: a new value is not a new client.
  EXPECT_EQ(
      http(host.port(), "GET", "/t/echo-headers", "", {{"X-Forwarded-For", "9.9.9.9"}}).status,
      429);
}

TEST(RateLimitHost, ForwardedForKeysClientsWhenTrusted) {
  TempDir dir;
  HostProcess host(dir.write(
      "host.json",
      hostConfig(
          {{"limits", {{"rate_per_second", 1}, {"burst", 1}, {"trust_forwarded_for", true}}}})));
  auto get = [&](const std::string& xff) {
    return http(host.port(), "GET", "/t/echo-headers", "", {{"X-Forwarded-For", xff}}).status;
  };
  EXPECT_EQ(get("spoofed, 10.1.1.1"), 200);
  EXPECT_EQ(get("other-spoof, 10.1.1.1"), 429);  // only the proxy's (last) entry counts
  EXPECT_EQ(get("10.1.1.2"), 200);
}

TEST(HeaderLimitHost, TooManyHeaderFieldsAre431Json) {
  TempDir dir;
  HostProcess host(dir.write("host.json", hostConfig({{"limits", {{"max_headers", 10}}}})));
  std::map<std::string, std::string> few{{"X-A", "1"}, {"X-B", "2"}};
  EXPECT_EQ(http(host.port(), "GET", "/t/echo-headers", "", few).status, 200);
  std::map<std::string, std::string> many;
  for (int i = 0; i < 20; ++i) many["X-H-" + std::to_string(i)] = "v";
  auto r = http(host.port(), "GET", "/t/echo-headers", "", many);
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(json::parse(r.body)["error"], "more than 10 header fields");
  // Far above the limit (Poco's parser answered a plain 400 beyond 100 fields): 431 as JSON too.
  for (int i = 0; i < 120; ++i) many["X-H-" + std::to_string(i)] = "v";
  r = http(host.port(), "GET", "/t/echo-headers", "", many);
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(json::parse(r.body)["error"], "more than 10 header fields");
  EXPECT_EQ(http(host.port(), "GET", "/health").status, 200);
}

TEST(SecurityConfigCheck, BadKeyOrUnsetSecretIsRefusedByCheck) {
  TempDir dir;
  const std::string bad =
      dir.write("bad.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  json group{{"prefix", "/t"},
             {"issuer", "i"},
             {"audience", "a"},
             {"algorithms", {"RS256"}},
             {"rs256_public_key_file", bad}};
  auto r = plexus::test::runHost(
      {"check", "--config",
       dir.write("a.json", hostConfig({{"auth", {{"enabled", true}, {"groups", {group}}}}}))});
  EXPECT_EQ(r.exitCode, 78) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot read the RS256 public key"), std::string::npos) << r.err;
  group = {{"prefix", "/t"},
           {"issuer", "i"},
           {"audience", "a"},
           {"algorithms", {"HS256"}},
           {"hs256_secret", "${PLEXUS_TEST_UNSET_SECRET_E}"}};
  r = plexus::test::runHost(
      {"check", "--config",
       dir.write("b.json", hostConfig({{"auth", {{"enabled", true}, {"groups", {group}}}}}))});
  EXPECT_EQ(r.exitCode, 78) << r.out << r.err;
  EXPECT_NE(r.err.find("/http/auth/groups/0/hs256_secret"), std::string::npos) << r.err;
}

// The shipped configs leave auth and rate limiting off (DESIGN.md §3: opt-in).
TEST(SecurityConfigCheck, ShippedConfigsLeaveAuthAndRateLimitOff) {
  int n = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(PLEXUS_SOURCE_DIR) + "/config")) {
    if (e.path().extension() != ".json") continue;
    const auto c =
        plexus::config::load(e.path().string(), [](const std::string&) { return std::nullopt; });
    EXPECT_FALSE(c.http.auth.enabled) << e.path();
    EXPECT_EQ(c.http.limits.ratePerSecond, 0) << e.path();
    ++n;
  }
  EXPECT_GE(n, 8);
}

}  // namespace
