#include "config/config.hpp"

#include <gtest/gtest.h>

#include <map>

namespace {

using plexus::config::Config;
using plexus::config::ConfigError;
using plexus::config::Env;

Env env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Config parse(const std::string& text, std::map<std::string, std::string> vars = {}) {
  return plexus::config::parse(text, "test.json", env(std::move(vars)));
}

// Asserts that parsing fails and the error names the file and the JSON path.
void expectError(const std::string& text, const std::string& path, const std::string& fragment,
                 std::map<std::string, std::string> vars = {}) {
  try {
    parse(text, std::move(vars));
    FAIL() << "expected a ConfigError at " << path;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "test.json");
    EXPECT_EQ(e.path(), path) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("test.json: ", 0), 0u) << e.what();
  }
}

const char* kMinimal = R"({"service": "svc", "plugins": []})";

TEST(Config, MinimalGetsDefaults) {
  const Config c = parse(kMinimal);
  EXPECT_EQ(c.service, "svc");
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_EQ(c.http.threads, 16);  // the store's default pool_size
  EXPECT_GT(c.http.queue, 64);
  EXPECT_EQ(c.http.maxBodyBytes, 1 << 20);
  EXPECT_TRUE(c.plugins.empty());
  EXPECT_TRUE(c.store.kind.empty());
}

TEST(Config, FullDocument) {
  const Config c = parse(R"({
    "service": "order-service",
    "http": {"host": "127.0.0.1", "port": 9000, "threads": 32, "queue": 256, "max_body_bytes": 2048,
             "keep_alive_seconds": 5, "shutdown_delay_ms": 0, "drain_seconds": 3},
    "store": {"kind": "postgres", "url": "${PLEXUS_PG_URL}", "schema": "orders"},
    "transport": {"kind": "rabbitmq", "url": "${PLEXUS_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"},
    "plugin_dir": "${PLEXUS_PLUGIN_DIR:-build/plugins}",
    "plugins": [{"library": "plexus_orders.so", "sha256": "AB00000000000000000000000000000000000000000000000000000000000000",
                 "components": ["CreateOrder"], "config": {"timeout_seconds": 5, "name": "${WHO:-x}"}}],
    "log": {"level": "debug"}
  })",
                         {{"PLEXUS_PG_URL", "postgresql://u:p@h/db"}, {"WHO", "me"}});
  EXPECT_EQ(c.http.port, 9000);
  EXPECT_EQ(c.http.maxBodyBytes, 2048);
  EXPECT_EQ(c.store.url, "postgresql://u:p@h/db");
  EXPECT_EQ(c.transport.url, "amqp://guest:guest@127.0.0.1:5672/");
  ASSERT_EQ(c.plugins.size(), 1u);
  EXPECT_EQ(c.plugins[0].path, "build/plugins/plexus_orders.so");
  EXPECT_EQ(*c.plugins[0].sha256,
            "ab00000000000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(c.plugins[0].components, std::vector<std::string>{"CreateOrder"});
  EXPECT_EQ(c.plugins[0].config["timeout_seconds"], 5);
  EXPECT_EQ(c.plugins[0].config["name"], "me");
  EXPECT_EQ(c.logLevel, "debug");
}

TEST(Config, PortFromEnvironmentString) {
  const Config c = parse(R"({"service": "s", "http": {"port": "${PORT:-8080}"}, "plugins": []})",
                         {{"PORT", "18081"}});
  EXPECT_EQ(c.http.port, 18081);
  EXPECT_EQ(
      parse(R"({"service": "s", "http": {"port": "${PORT:-8080}"}, "plugins": []})").http.port,
      8080);
}

TEST(Config, PathWithSlashIsNotUnderPluginDir) {
  const Config c = parse(
      R"({"service": "s", "plugin_dir": "/opt/p", "plugins": [{"library": "./x/plexus_a.so"}, {"library": "plexus_b.so"}]})");
  EXPECT_EQ(c.plugins[0].path, "x/plexus_a.so");
  EXPECT_EQ(c.plugins[1].path, "/opt/p/plexus_b.so");
}

TEST(Config, LiveOperationsKeys) {
  const Config d = parse(kMinimal);
  EXPECT_EQ(d.reload.drainTimeoutSeconds, 30);
  EXPECT_EQ(d.rebuild.gracePeriodSeconds, 600);
  EXPECT_EQ(d.rebuild.batch, 500);
  EXPECT_TRUE(d.rebuild.sources.empty());
  const Config c = parse(R"({"service": "s", "plugins": [],
    "reload": {"drain_timeout_seconds": "${DRAIN:-5}"},
    "rebuild": {"grace_period_seconds": 0, "batch": 50, "sources": ["order-service"],
                "answer_timeout_seconds": 10, "reply_window": 100}})");
  EXPECT_EQ(c.reload.drainTimeoutSeconds, 5);
  EXPECT_EQ(c.rebuild.gracePeriodSeconds, 0);
  EXPECT_EQ(c.rebuild.batch, 50);
  EXPECT_EQ(c.rebuild.sources, std::vector<std::string>{"order-service"});
  EXPECT_EQ(c.rebuild.answerTimeoutSeconds, 10);
  EXPECT_EQ(c.rebuild.replyWindow, 100);
  expectError(R"({"service": "s", "plugins": [], "rebuild": {"batch": 0}})", "/rebuild/batch", "");
  expectError(R"({"service": "s", "plugins": [], "rebuild": {"sources": [""]}})",
              "/rebuild/sources/0", "deployment");
  expectError(R"({"service": "s", "plugins": [], "reload": {"drain": 1}})", "/reload/drain",
              "unknown key");
}

TEST(Config, MalformedJson) { expectError(R"({"service": "s", )", "", "malformed JSON"); }
TEST(Config, NotAnObject) { expectError(R"([1, 2])", "", "expected an object"); }
TEST(Config, MissingService) {
  expectError(R"({"plugins": []})", "/service", "missing required key");
}
TEST(Config, MissingPlugins) {
  expectError(R"({"service": "s"})", "/plugins", "missing required key");
}
TEST(Config, UnknownTopLevelKey) {
  expectError(R"({"service": "s", "plugins": [], "servce": 1})", "/servce", "unknown key");
}
TEST(Config, UnknownNestedKey) {
  expectError(R"({"service": "s", "plugins": [], "http": {"prot": 1}})", "/http/prot",
              "unknown key");
}
TEST(Config, WrongTypePort) {
  expectError(R"({"service": "s", "plugins": [], "http": {"port": true}})", "/http/port",
              "expected an integer, got a boolean");
}
TEST(Config, NonNumericPortString) {
  expectError(R"({"service": "s", "plugins": [], "http": {"port": "80a"}})", "/http/port",
              "expected an integer");
}
TEST(Config, PortOutOfRange) {
  expectError(R"({"service": "s", "plugins": [], "http": {"port": 70000}})", "/http/port",
              "between 0 and 65535");
}
TEST(Config, FractionalPort) {
  expectError(R"({"service": "s", "plugins": [], "http": {"port": 80.5}})", "/http/port",
              "expected an integer");
}
TEST(Config, BadServiceName) {
  expectError(R"({"service": "Order Service", "plugins": []})", "/service", "a-z");
}
TEST(Config, PluginsNotArray) {
  expectError(R"({"service": "s", "plugins": {}})", "/plugins", "expected an array");
}
TEST(Config, PluginWithoutLibrary) {
  expectError(R"({"service": "s", "plugins": [{"config": {}}]})", "/plugins/0/library",
              "missing required key");
}
TEST(Config, PluginUnknownKey) {
  expectError(R"({"service": "s", "plugins": [{"library": "a.so", "sha": "x"}]})", "/plugins/0/sha",
              "unknown key");
}
TEST(Config, PluginListedTwice) {
  expectError(R"({"service": "s", "plugins": [{"library": "a.so"}, {"library": "a.so"}]})",
              "/plugins/1/library", "listed twice");
}
TEST(Config, BadSha256) {
  expectError(R"({"service": "s", "plugins": [{"library": "a.so", "sha256": "abc"}]})",
              "/plugins/0/sha256", "64 hexadecimal");
}
TEST(Config, ComponentsMustBeStrings) {
  expectError(R"({"service": "s", "plugins": [{"library": "a.so", "components": ["A", 2]}]})",
              "/plugins/0/components/1", "expected a string");
}
TEST(Config, PluginConfigMustBeObject) {
  expectError(R"({"service": "s", "plugins": [{"library": "a.so", "config": []}]})",
              "/plugins/0/config", "expected an object");
}
TEST(Config, UnknownStoreKind) {
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "mysql", "url": "x"}})",
              "/store/kind", "one of");
}
TEST(Config, RabbitmqNeedsUrl) {
  expectError(R"({"service": "s", "plugins": [], "transport": {"kind": "rabbitmq"}})",
              "/transport/url", "required");
}
TEST(Config, SeveralBrokerUrls) {
  const Config c = parse(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "queue_type": "quorum",
                  "urls": ["amqp://a:5672/", "${SECOND:-amqp://b:5672/}"]}})");
  ASSERT_EQ(c.transport.urls.size(), 2u);
  EXPECT_EQ(c.transport.urls[1], "amqp://b:5672/");
  EXPECT_EQ(c.transport.url, "amqp://a:5672/");  // the first: the one-node form
  EXPECT_EQ(c.transport.queueType, "quorum");
}
TEST(Config, OneUrlIsAListOfOne) {
  const Config c = parse(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a:5672/"}})");
  EXPECT_EQ(c.transport.urls, std::vector<std::string>{"amqp://a:5672/"});
  EXPECT_EQ(c.transport.queueType, "classic");
}
TEST(Config, UrlsFromOneCommaSeparatedVariable) {
  const char* text = R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq",
                  "urls": "${PLEXUS_AMQP_URLS:-${PLEXUS_AMQP_URL:-amqp://default/}}"}})";
  EXPECT_EQ(parse(text).transport.urls, std::vector<std::string>{"amqp://default/"});
  EXPECT_EQ(parse(text, {{"PLEXUS_AMQP_URL", "amqp://one/"}}).transport.urls,
            std::vector<std::string>{"amqp://one/"});
  const Config c = parse(text, {{"PLEXUS_AMQP_URL", "amqp://one/"},
                                {"PLEXUS_AMQP_URLS", "amqp://a:1/, amqp://b:2/,amqp://c:3/"}});
  EXPECT_EQ(c.transport.urls,
            (std::vector<std::string>{"amqp://a:1/", "amqp://b:2/", "amqp://c:3/"}));
  EXPECT_EQ(c.transport.url, "amqp://a:1/");
}
TEST(Config, EmptyUrlInTheListRefused) {
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "urls": "amqp://a/,,amqp://b/"}})",
              "/transport/urls", "an empty URL");
}
TEST(Config, DeliveryLimitDefaultsAndMustExceedMaxAttempts) {
  const Config c = parse(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "queue_type": "quorum"}})");
  EXPECT_EQ(c.transport.deliveryLimit, 20);
  EXPECT_GT(c.transport.deliveryLimit, c.transport.maxAttempts);
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "queue_type": "quorum",
                  "max_attempts": 30}})",
              "/transport/delivery_limit", "must be above max_attempts (30)");
  // Classic queues have no delivery limit: nothing to compare.
  EXPECT_EQ(parse(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "max_attempts": 30}})")
                .transport.maxAttempts,
            30);
}
TEST(Config, ConsumersDefaultToOneAndCannotOutnumberThePartitions) {
  EXPECT_EQ(parse(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/"}})")
                .transport.consumers,
            1);
  EXPECT_EQ(parse(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "partitions": 8, "consumers": 8}})")
                .transport.consumers,
            8);
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "partitions": 2, "consumers": 3}})",
              "/transport/consumers", "must be at most partitions (2), got 3");
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "consumers": 0}})",
              "/transport/consumers", "");
}
TEST(Config, MaxBatchIsOptionalAndPositive) {
  EXPECT_EQ(parse(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/"}})")
                .transport.maxBatch,
            0);  // up to the prefetch
  EXPECT_EQ(parse(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "max_batch": 1}})")
                .transport.maxBatch,
            1);
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "max_batch": 0}})",
              "/transport/max_batch", "");
}
TEST(Config, UrlAndUrlsTogetherRefused) {
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "urls": ["amqp://b/"]}})",
              "/transport/urls", "not both");
}
TEST(Config, EmptyUrlsRefused) {
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "urls": []}})",
              "/transport/urls", "must not be empty");
}
TEST(Config, UnknownQueueTypeRefused) {
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "url": "amqp://a/", "queue_type": "stream"}})",
              "/transport/queue_type", "one of classic, quorum");
}
TEST(Config, TlsNeedsEveryUrlAmqps) {
  expectError(R"({"service": "s", "plugins": [], "store": {"kind": "sqlite", "url": "x"},
    "transport": {"kind": "rabbitmq", "urls": ["amqps://a/", "amqp://b/"], "tls": {}}})",
              "/transport/tls", "amqps://");
}
TEST(Config, UnsetVariableWithoutDefault) {
  expectError(
      R"({"service": "s", "plugins": [], "store": {"kind": "postgres", "url": "${PLEXUS_PG_URL}"}})",
      "/store/url", "PLEXUS_PG_URL is not set");
}
TEST(Config, VariableInsidePluginConfig) {
  expectError(R"({"service": "s", "plugins": [{"library": "a.so", "config": {"k": ["${NOPE}"]}}]})",
              "/plugins/0/config/k/0", "NOPE");
}
TEST(Config, MissingFile) {
  try {
    plexus::config::load("/nonexistent/plexus.json");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/plexus.json"), std::string::npos);
  }
}

TEST(Expand, Forms) {
  auto e = env({{"A", "1"}, {"EMPTY", ""}});
  EXPECT_EQ(plexus::config::expand("x${A}y", e), "x1y");
  EXPECT_EQ(plexus::config::expand("${B:-def}", e), "def");
  EXPECT_EQ(plexus::config::expand("${EMPTY:-def}", e), "def");
  EXPECT_EQ(plexus::config::expand("${EMPTY}", e), "");
  EXPECT_EQ(plexus::config::expand("$$5 and $", e), "$5 and $");
  EXPECT_EQ(plexus::config::expand("${A:-}", e), "1");
  EXPECT_THROW(plexus::config::expand("${A", e), std::invalid_argument);
  EXPECT_THROW(plexus::config::expand("${B}", e), std::invalid_argument);
  EXPECT_THROW(plexus::config::expand("${BAD-NAME}", e), std::invalid_argument);
}

TEST(Expand, NestedDefault) {
  auto e = env({{"ONE", "amqp://one/"}, {"BOTH", "amqp://a/,amqp://b/"}});
  EXPECT_EQ(plexus::config::expand("${NONE:-${ONE:-amqp://x/}}", e), "amqp://one/");
  EXPECT_EQ(plexus::config::expand("${BOTH:-${ONE:-amqp://x/}}", e), "amqp://a/,amqp://b/");
  EXPECT_EQ(plexus::config::expand("${NONE:-${NOPE:-amqp://x/}}/q", e), "amqp://x//q");
  EXPECT_THROW(plexus::config::expand("${NONE:-${NOPE}}", e), std::invalid_argument);
  EXPECT_THROW(plexus::config::expand("${NONE:-${ONE}", e), std::invalid_argument);
}

}  // namespace
