// The http section's listener, connection and deadline keys (issue 20).
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <map>

namespace {

using plexus::config::Config;
using plexus::config::ConfigError;

Config parse(const std::string& http, std::map<std::string, std::string> vars = {}) {
  return plexus::config::parse(R"({"service": "svc", "plugins": [], "http": )" + http + "}",
                               "test.json", [vars](const std::string& name) {
                                 auto it = vars.find(name);
                                 return it == vars.end() ? std::nullopt
                                                         : std::optional<std::string>(it->second);
                               });
}

void expectError(const std::string& http, const std::string& path, const std::string& fragment) {
  try {
    parse(http);
    FAIL() << "expected a ConfigError at " << path;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), path) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(HttpConfig, Defaults) {
  const Config c = parse("{}");
  EXPECT_EQ(c.http.managementPort, -1);  // absent: no management listener
  EXPECT_EQ(c.http.headerTimeoutMs, 10000);
  EXPECT_EQ(c.http.bodyTimeoutMs, 30000);
  EXPECT_EQ(c.http.requestTimeoutMs, 30000);
  EXPECT_EQ(c.http.limits.maxHeaderBytes, 64 << 10);
  EXPECT_EQ(c.http.limits.maxConnections, 10000);
  EXPECT_EQ(c.http.limits.maxConnectionsPerClient, 256);
}

TEST(HttpConfig, EveryKeyAndTheShippedManagementPortForm) {
  const Config c = parse(R"({"port": 8080, "management_port": "${PLEXUS_MANAGEMENT_PORT:-0}",
      "header_timeout_ms": 2000, "body_timeout_ms": "5000", "request_timeout_ms": 7000,
      "limits": {"max_header_bytes": 8192, "max_connections": 500,
                 "max_connections_per_client": 50}})");
  EXPECT_EQ(c.http.managementPort, 0);  // any free port, logged
  EXPECT_EQ(c.http.headerTimeoutMs, 2000);
  EXPECT_EQ(c.http.bodyTimeoutMs, 5000);
  EXPECT_EQ(c.http.requestTimeoutMs, 7000);
  EXPECT_EQ(c.http.limits.maxHeaderBytes, 8192);
  EXPECT_EQ(c.http.limits.maxConnections, 500);
  EXPECT_EQ(c.http.limits.maxConnectionsPerClient, 50);
  const Config k = parse(R"({"management_port": "${PLEXUS_MANAGEMENT_PORT:-0}"})",
                         {{"PLEXUS_MANAGEMENT_PORT", "9090"}});
  EXPECT_EQ(k.http.managementPort, 9090);  // what the Kubernetes manifests set
}

TEST(HttpConfig, BadValuesNameTheirKey) {
  expectError(R"({"management_port": 70000})", "/http/management_port", "between 0 and 65535");
  expectError(R"({"management_port": "nine"})", "/http/management_port", "");
  expectError(R"({"port": 9000, "management_port": 9000})", "/http/management_port",
              "must differ from port");
  expectError(R"({"header_timeout_ms": 0})", "/http/header_timeout_ms", "between");
  expectError(R"({"body_timeout_ms": -5})", "/http/body_timeout_ms", "between");
  expectError(R"({"request_timeout_ms": 1.5})", "/http/request_timeout_ms", "");
  expectError(R"({"limits": {"max_header_bytes": 100}})", "/http/limits/max_header_bytes",
              "between 1024");
  expectError(R"({"limits": {"max_connections": 0}})", "/http/limits/max_connections", "between");
  expectError(R"({"limits": {"max_connections": 10, "max_connections_per_client": 11}})",
              "/http/limits/max_connections_per_client", "must not exceed max_connections");
  expectError(R"({"management": 1})", "/http/management", "unknown key");
}

TEST(HttpConfig, BothPortsZeroIsAllowed) {
  const Config c = parse(R"({"port": 0, "management_port": 0})");
  EXPECT_EQ(c.http.port, 0);
  EXPECT_EQ(c.http.managementPort, 0);
}

}  // namespace
