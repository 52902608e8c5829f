// The plexus-host binary: commands, exit codes, config and plugin refusals, probe, SIGTERM drain.
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <future>

namespace {

using plexus::test::HostProcess;
using plexus::test::http;
using plexus::test::runHost;
using plexus::test::TempDir;

std::string configText(const std::string& plugins,
                       const std::string& http = R"({"host": "127.0.0.1", "port": 0})") {
  return R"({"service": "proc-test", "http": )" + http + R"(, "plugins": )" + plugins + "}";
}

TEST(HostBinary, VersionAndHelp) {
  auto v = runHost({"--version"});
  EXPECT_EQ(v.exitCode, 0);
  EXPECT_NE(v.out.find("plexus-host"), std::string::npos);
  EXPECT_NE(v.out.find("plugin ABI 1."), std::string::npos);
  auto h = runHost({"--help"});
  EXPECT_EQ(h.exitCode, 0);
  EXPECT_NE(h.out.find("check --config"), std::string::npos);
}

TEST(HostBinary, UsageErrors) {
  EXPECT_EQ(runHost({"check"}).exitCode, 64);
  EXPECT_EQ(runHost({"frobnicate", "--config", "x.json"}).exitCode, 64);
}

TEST(HostBinary, CheckAcceptsTheShippedConfig) {
  auto r =
      runHost({"check", "--config", std::string(PLEXUS_SOURCE_DIR) + "/config/all-in-one.json"},
              {{"PLEXUS_PLUGIN_DIR", PLEXUS_PLUGIN_DIR}});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("is valid"), std::string::npos);
}

TEST(HostBinary, CheckNamesFileAndPathOfAConfigProblem) {
  TempDir dir;
  const std::string file = dir.write("bad.json", configText("[]", R"({"port": "eighty"})"));
  auto r = runHost({"check", "--config", file});
  EXPECT_EQ(r.exitCode, 78);
  EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/http/port"), std::string::npos) << r.err;
}

TEST(HostBinary, CheckRefusesABrokenPluginWithPathAndReason) {
  TempDir dir;
  const std::string lib = plexus::test::testPlugin("test_abi_major");
  const std::string file = dir.write("c.json", configText(R"([{"library": ")" + lib + R"("}])"));
  auto r = runHost({"check", "--config", file});
  EXPECT_EQ(r.exitCode, 78);
  EXPECT_NE(r.err.find(lib), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ABI major 2"), std::string::npos) << r.err;
}

TEST(HostBinary, MigrateNeedsAStore) {
  TempDir dir;
  const std::string file = dir.write("c.json", configText("[]"));
  auto r = runHost({"migrate", "--config", file});
  EXPECT_EQ(r.exitCode, 78);
  EXPECT_NE(r.err.find("has no \"store\""), std::string::npos) << r.err;
}

TEST(HostBinary, MigrateAppliesOnceThenIsANoOp) {
  TempDir dir;
  const std::string file =
      dir.write("c.json", R"({"service": "mig", "store": {"kind": "sqlite", "url": ")" +
                              dir.file("m.db") + R"("}, "plugins": [{"library": ")" +
                              plexus::test::testPlugin("testkit") + R"("}]})");
  auto first = runHost({"migrate", "--config", file});
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_NE(first.out.find("6 applied, 0 already applied"), std::string::npos) << first.out;
  auto second = runHost({"migrate", "--config", file});
  ASSERT_EQ(second.exitCode, 0) << second.err;
  EXPECT_NE(second.out.find("0 applied, 6 already applied"), std::string::npos) << second.out;
}

TEST(HostBinary, ServesAndProbes) {
  TempDir dir;
  const std::string file = dir.write(
      "c.json", configText(R"([{"library": ")" + plexus::test::plugin("echo") + R"("}])"));
  HostProcess host(file);
  EXPECT_EQ(http(host.port(), "GET", "/health").status, 200);
  EXPECT_EQ(runHost({"probe", "--port", std::to_string(host.port())}).exitCode, 0);
  host.signal(SIGTERM);
  ASSERT_EQ(host.waitExit(20000), std::optional<int>(0)) << host.output();
  // Nothing listens any more: the probe fails.
  EXPECT_EQ(runHost({"probe", "--port", std::to_string(host.port())}).exitCode, 1);
}

TEST(HostBinary, LogsAreJsonLines) {
  TempDir dir;
  const std::string file = dir.write(
      "c.json", configText(R"([{"library": ")" + plexus::test::plugin("echo") + R"("}])"));
  HostProcess host(file);
  host.signal(SIGTERM);
  ASSERT_TRUE(host.waitExit(20000).has_value());
  std::istringstream lines(host.output());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "not JSON: " << line;
    EXPECT_EQ(j["service"], "proc-test");
    EXPECT_TRUE(j.contains("level") && j.contains("ts") && j.contains("msg"));
    ++count;
  }
  EXPECT_GE(count, 3);  // plugin loaded, listening, shutting down, stopped
}

// SIGTERM: readiness turns 503 at once, in-flight requests complete, exit 0 within the budget.
TEST(HostBinary, SigtermDrainsInFlightRequests) {
  TempDir dir;
  const std::string file = dir.write(
      "c.json",
      configText(
          R"([{"library": ")" + plexus::test::testPlugin("testkit") + R"("}])",
          R"({"host": "127.0.0.1", "port": 0, "shutdown_delay_ms": 1500, "drain_seconds": 10})"));
  HostProcess host(file);
  const int port = host.port();
  auto slow = std::async(std::launch::async, [port] {
    try {
      return http(port, "GET", "/t/slow?ms=2500");
    } catch (const std::exception& e) {
      return plexus::test::HttpResult{-1, e.what(), {}};
    }
  });
  // Wait (bounded) until the slow request is in flight: the gauge counts it plus the scrape itself.
  bool inFlight = false;
  for (int i = 0; i < 500 && !inFlight; ++i) {
    inFlight = http(port, "GET", "/metrics").body.find("plexus_http_requests_in_flight 2") !=
               std::string::npos;
  }
  ASSERT_TRUE(inFlight);
  ASSERT_EQ(http(port, "GET", "/health/ready").status, 200);
  host.signal(SIGTERM);
  int ready = 0;
  for (int i = 0; i < 100 && ready != 503; ++i) ready = http(port, "GET", "/health/ready").status;
  EXPECT_EQ(ready, 503);
  const auto r = slow.get();
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(host.waitExit(15000), std::optional<int>(0)) << host.output();
  EXPECT_NE(host.output().find("\"drained\":true"), std::string::npos) << host.output();
}

TEST(HostBinary, BusyPortIsAClearError) {
  TempDir dir;
  const std::string file = dir.write("c.json", configText("[]"));
  HostProcess first(file);
  const std::string second = dir.write(
      "d.json",
      configText("[]", R"({"host": "127.0.0.1", "port": )" + std::to_string(first.port()) + "}"));
  auto r = runHost({"--config", second});
  EXPECT_EQ(r.exitCode, 69);
  EXPECT_NE(r.err.find("cannot serve"), std::string::npos) << r.err;
}

}  // namespace

namespace {

// The real /metrics of the host binary: the process metrics and info gauges are there, and
// promtool (Debian package prometheus) accepts the whole exposition.
TEST(HostBinary, MetricsCarryProcessAndBuildInfoAndPassPromtool) {
  TempDir dir;
  const std::string file = dir.write(
      "c.json", configText(R"([{"library": ")" + plexus::test::plugin("echo") + R"("}])"));
  // An exporter whose endpoint is down: its counters are part of the exposition too.
  HostProcess host(file, {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"}});
  const std::string text = http(host.port(), "GET", "/metrics").body;
  for (const char* family :
       {"# TYPE process_cpu_seconds_total counter", "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_virtual_memory_bytes gauge", "# TYPE process_open_fds gauge",
        "# TYPE process_max_fds gauge", "# TYPE process_threads gauge",
        "# TYPE process_start_time_seconds gauge",
        "# TYPE plexus_trace_spans_dropped_total counter",
        "# TYPE plexus_trace_spans_exported_total counter",
        "plexus_plugin_info{plugin=\"echo\",version=\"1.0.0\"} 1",
        "plexus_build_info{abi_version=\""}) {
    EXPECT_NE(text.find(family), std::string::npos) << family;
  }
  const std::string metricsFile = dir.write("metrics.txt", text);
  FILE* p = popen(("promtool check metrics < " + metricsFile + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  EXPECT_EQ(pclose(p), 0) << "promtool said:\n" << out;
}

// A bad OTEL_* value stops the start with the variable named (exit 78), also for `check`.
TEST(HostBinary, BadTracingEnvironmentIsNamed) {
  TempDir dir;
  const std::string file = dir.write(
      "c.json", configText(R"([{"library": ")" + plexus::test::plugin("echo") + R"("}])"));
  auto r = runHost({"check", "--config", file}, {{"OTEL_TRACES_SAMPLER", "sometimes"}});
  EXPECT_EQ(r.exitCode, 78);
  EXPECT_NE(r.err.find("OTEL_TRACES_SAMPLER: unknown sampler 'sometimes'"), std::string::npos)
      << r.err;
  r = runHost({"check", "--config", file},
              {{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"}});
  EXPECT_EQ(r.exitCode, 78);
  EXPECT_NE(r.err.find("OTEL_EXPORTER_OTLP_ENDPOINT"), std::string::npos) << r.err;
  r = runHost({"check", "--config", file},
              {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"},
               {"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
               {"OTEL_TRACES_SAMPLER_ARG", "0.1"}});
  EXPECT_EQ(r.exitCode, 0) << r.err;
}

}  // namespace
