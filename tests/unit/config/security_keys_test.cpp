// Config keys for auth, limits and transport TLS: defaults, ${VAR} secrets, strict refusals.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <map>

namespace {

using plexus::config::Config;
using plexus::config::ConfigError;

Config parse(const std::string& text, std::map<std::string, std::string> vars = {}) {
  return plexus::config::parse(text, "test.json",
                               [vars](const std::string& n) -> std::optional<std::string> {
                                 auto it = vars.find(n);
                                 if (it == vars.end()) return std::nullopt;
                                 return it->second;
                               });
}

void expectError(const std::string& text, const std::string& path, const std::string& fragment,
                 std::map<std::string, std::string> vars = {}) {
  try {
    parse(text, std::move(vars));
    FAIL() << "expected a ConfigError at " << path;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), path) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

std::string withHttp(const std::string& http) {
  return R"({"service": "svc", "plugins": [], "http": )" + http + "}";
}

const std::string kSecret = "0123456789abcdef0123456789abcdef";

struct KeyFile {
  explicit KeyFile(const std::string& content) {
    char tmpl[] = "/tmp/plexus-key-XXXXXX";
    const int fd = mkstemp(tmpl);
    path = tmpl;
    std::ofstream(path) << content;
    close(fd);
  }
  ~KeyFile() { std::remove(path.c_str()); }
  std::string path;
};

TEST(SecurityConfig, DefaultsLeaveAuthAndRateLimitOff) {
  const Config c = parse(R"({"service": "svc", "plugins": []})");
  EXPECT_FALSE(c.http.auth.enabled);
  EXPECT_EQ(c.http.limits.ratePerSecond, 0);
  EXPECT_EQ(c.http.limits.maxHeaders, 64);
  EXPECT_FALSE(c.http.limits.trustForwardedFor);
}

TEST(SecurityConfig, AuthGroupWithSecretFromEnvironment) {
  const Config c = parse(withHttp(R"({"auth": {"enabled": "${AUTH:-false}", "groups": [
      {"prefix": "/api/", "issuer": "https://i", "audience": "a", "algorithms": ["HS256"],
       "hs256_secret": "${JWT_SECRET}", "clock_skew_seconds": "10", "required_scopes": ["w"]}]}})"),
                         {{"AUTH", "true"}, {"JWT_SECRET", kSecret}});
  ASSERT_TRUE(c.http.auth.enabled);
  ASSERT_EQ(c.http.auth.groups.size(), 1u);
  const auto& g = c.http.auth.groups[0];
  EXPECT_EQ(g.prefix, "/api");  // trailing slash dropped: prefixes end at a segment boundary
  EXPECT_EQ(g.hs256Secret, kSecret);
  EXPECT_EQ(g.clockSkewSeconds, 10);
  EXPECT_EQ(g.requiredScopes, std::vector<std::string>{"w"});
}

TEST(SecurityConfig, AuthRefusals) {
  const std::string grp = R"({"prefix": "/api", "issuer": "i", "audience": "a", )";
  expectError(withHttp(R"({"auth": {"enabled": true}})"), "/http/auth/groups", "required");
  expectError(withHttp(R"({"auth": {"enabld": true}})"), "/http/auth/enabld", "unknown key");
  expectError(withHttp(R"({"auth": {"enabled": "yes", "groups": []}})"), "/http/auth/enabled",
              "true or false");
  expectError(withHttp(R"({"auth": {"groups": [)" + grp +
                       R"("algorithms": ["HS256"], "hs256_secret": "short"}]}})"),
              "/http/auth/groups/0/hs256_secret", "at least 32 bytes");
  expectError(withHttp(R"({"auth": {"groups": [)" + grp + R"("algorithms": ["none"]}]}})"),
              "/http/auth/groups/0/algorithms/0", "HS256 or RS256");
  expectError(withHttp(R"({"auth": {"groups": [)" + grp + R"("algorithms": ["HS384"]}]}})"),
              "/http/auth/groups/0/algorithms/0", "HS256 or RS256");
  expectError(withHttp(R"({"auth": {"groups": [)" + grp + R"("algorithms": ["RS256"]}]}})"),
              "/http/auth/groups/0/rs256_public_key_file", "required with RS256");
  expectError(
      withHttp(R"({"auth": {"groups": [)" + grp +
               R"("algorithms": ["RS256"], "rs256_public_key_file": "/nonexistent.pem"}]}})"),
      "/http/auth/groups/0/rs256_public_key_file", "cannot read");
  // A device would block or never end: only regular files are read.
  expectError(withHttp(R"({"auth": {"groups": [)" + grp +
                       R"("algorithms": ["RS256"], "rs256_public_key_file": "/dev/zero"}]}})"),
              "/http/auth/groups/0/rs256_public_key_file", "not a regular file");
  expectError(
      withHttp(R"({"auth": {"groups": [)" + grp + R"("algorithms": ["HS256"], "hs256_secret": ")" +
               kSecret + R"(", "colour": 1}]}})"),
      "/http/auth/groups/0/colour", "unknown key");
  expectError(
      withHttp(
          R"({"auth": {"groups": [{"prefix": "api", "issuer": "i", "audience": "a", "algorithms": ["HS256"], "hs256_secret": ")" +
          kSecret + R"("}]}})"),
      "/http/auth/groups/0/prefix", "must start with '/'");
  expectError(
      withHttp(R"({"auth": {"groups": [)" + grp + R"("algorithms": ["HS256"], "hs256_secret": ")" +
               kSecret + R"(", "clock_skew_seconds": 601}]}})"),
      "/http/auth/groups/0/clock_skew_seconds", "between 0 and 600");
}

TEST(SecurityConfig, PublicKeyFileIsReadAndKeyConfusionRefused) {
  const std::string pem =
      "-----BEGIN PUBLIC KEY-----\n" + kSecret +
      "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n";
  KeyFile pub(pem);
  const std::string grp =
      R"({"prefix": "/api", "issuer": "i", "audience": "a", "rs256_public_key_file": ")" +
      pub.path + "\", ";
  const Config c = parse(withHttp(R"({"auth": {"enabled": true, "groups": [)" + grp +
                                  R"("algorithms": ["RS256"]}]}})"));
  EXPECT_EQ(c.http.auth.groups[0].rs256PublicKeyPem, pem);
  expectError(
      withHttp(R"({"auth": {"groups": [)" + grp +
               R"("algorithms": ["RS256", "HS256"], "hs256_secret": ")" + kSecret + "\"}]}}"),
      "/http/auth/groups/0/hs256_secret", "must not be (part of) the RS256 public key");
  KeyFile priv("-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n");
  expectError(
      withHttp(
          R"({"auth": {"groups": [{"prefix": "/api", "issuer": "i", "audience": "a", "algorithms": ["RS256"], "rs256_public_key_file": ")" +
          priv.path + "\"}]}}"),
      "/http/auth/groups/0/rs256_public_key_file", "private key");
}

TEST(SecurityConfig, Limits) {
  Config c =
      parse(withHttp(R"({"limits": {"max_headers": 20, "rate_per_second": "50", "max_clients": 5,
                                            "trust_forwarded_for": true}})"));
  EXPECT_EQ(c.http.limits.maxHeaders, 20);
  EXPECT_EQ(c.http.limits.ratePerSecond, 50);
  EXPECT_EQ(c.http.limits.burst, 50);  // defaults to the rate
  EXPECT_EQ(c.http.limits.maxClients, 5);
  EXPECT_TRUE(c.http.limits.trustForwardedFor);
  expectError(withHttp(R"({"limits": {"max_headers": 101}})"), "/http/limits/max_headers",
              "between 1 and 100");
  expectError(withHttp(R"({"limits": {"rate": 1}})"), "/http/limits/rate", "unknown key");
  expectError(withHttp(R"({"limits": {"rate_per_second": -1}})"), "/http/limits/rate_per_second",
              "between");
}

TEST(SecurityConfig, TransportTls) {
  const std::string base =
      R"({"service": "svc", "plugins": [], "store": {"kind": "sqlite", "url": ":memory:"}, "transport": )";
  Config c = parse(
      base +
      R"({"kind": "rabbitmq", "url": "amqps://u:p@mq.test:5671/", "tls": {"ca_file": "/ca.pem", "verify_hostname": "false"}}})");
  EXPECT_EQ(c.transport.tls.caFile, "/ca.pem");
  EXPECT_TRUE(c.transport.tls.verifyPeer);
  EXPECT_FALSE(c.transport.tls.verifyHostname);
  expectError(
      base + R"({"kind": "rabbitmq", "url": "amqp://mq.test/", "tls": {"ca_file": "/ca.pem"}}})",
      "/transport/tls", "amqps://");
  expectError(
      base + R"({"kind": "rabbitmq", "url": "amqps://mq.test/", "tls": {"cert_file": "/c.pem"}}})",
      "/transport/tls/key_file", "go together");
  expectError(base + R"({"kind": "rabbitmq", "url": "amqps://mq.test/", "tls": {"verify": true}}})",
              "/transport/tls/verify", "unknown key");
}

}  // namespace
