// The plexus-host binary: commands, exit codes, config and plugin refusals, probe, SIGTERM drain.
#include "store/store.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <future>
#include <sstream>

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

// Defect 4 of issue 16: a route under /admin/ was refused by the HTTP server with neither the
// plugin nor its file named and no JSON log line.
TEST(HostBinary, CheckAndRunRefuseARouteUnderAdminWithAJsonLogLine) {
  TempDir dir;
  const std::string lib = plexus::test::testPlugin("test_reserved_route");
  const std::string file = dir.write("c.json", configText(R"([{"library": ")" + lib + R"("}])"));
  for (const char* command : {"check", "run"}) {
    auto r = runHost({command, "--config", file});
    EXPECT_EQ(r.exitCode, 78) << command;
    bool logged = false;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || j.value("msg", "") != "plugin refused") continue;
      logged = true;
      EXPECT_EQ(j.value("path", ""), lib);
      EXPECT_NE(j.value("reason", "").find("plugin sneaky: route \"Sneaky\""), std::string::npos)
          << line;
      EXPECT_NE(j.value("reason", "").find("/admin"), std::string::npos) << line;
    }
    EXPECT_TRUE(logged) << command << ": no \"plugin refused\" JSON line in:\n" << r.out;
  }
}

// Defect 5 of issue 16: a plugin that crashed the process left no log line. The host's last words
// name the plugin, the component and the route or message, then the process dies of the signal.
nlohmann::json crashLine(const std::string& output) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("level", "") == "fatal") return j;
  }
  return nullptr;
}

// Starts a host with the crashing test plugin, sends one request, and returns its last words
// after checking that it died of SIGSEGV.
nlohmann::json crashWith(const std::string& method, const std::string& path) {
  TempDir dir;
  const std::string file = dir.write(
      "c.json",
      configText(R"([{"library": ")" + plexus::test::testPlugin("test_crashes") + R"("}])"));
  HostProcess host(file);
  try {
    http(host.port(), method, path, "{}", {{"X-Request-Id", "req-crash-1"}});
  } catch (const std::exception&) {
    // The connection dies with the process.
  }
  EXPECT_EQ(host.waitExit(20000), 128 + SIGSEGV);
  const auto j = crashLine(host.output());
  EXPECT_TRUE(j.is_object()) << host.output();
  return j.is_object() ? j : nlohmann::json::object();
}

TEST(HostBinary, APluginThatCrashesInARouteLeavesLastWordsAndDiesOfTheSignal) {
  const auto j = crashWith("GET", "/crash/null");
  EXPECT_EQ(j.value("signal", ""), "SIGSEGV");
  EXPECT_EQ(j.value("plugin", ""), "crashes");
  EXPECT_EQ(j.value("component", ""), "NullDeref");
  EXPECT_EQ(j.value("route", ""), "GET /crash/null");
  EXPECT_EQ(j.value("request_id", ""), "req-crash-1");
  EXPECT_EQ(j.value("service", ""), "proc-test");
  EXPECT_EQ(j.value("fault_address", ""), "0x0");
  EXPECT_EQ(j.value("ts", "").size(), 24u) << j;
}

TEST(HostBinary, AReceptorThatCrashesUnderARouteIsNamedWithTheRoute) {
  const auto j = crashWith("POST", "/crash/invoke");
  EXPECT_EQ(j.value("component", ""), "Explode");
  EXPECT_EQ(j.value("message_type", ""), "Explode");
  EXPECT_EQ(j.value("message_id", "").size(), 36u);
  EXPECT_EQ(j["inside"].value("component", ""), "InvokeExplode");
  EXPECT_EQ(j["inside"].value("route", ""), "POST /crash/invoke");
}

// The C and Rust examples load through the real loader (trust checks, ABI checks) beside the
// ECommerce plugins, their migrations apply, and their routes answer.
TEST(HostBinary, TheCAndRustExamplePluginsLoadAndServe) {
  const std::string loyalty = plexus::test::plugin("loyalty");
  if (!std::filesystem::exists(loyalty)) GTEST_SKIP() << "no " << loyalty << " (no Debian cargo)";
  TempDir dir;
  const std::string file = dir.write(
      "c.json", R"({"service": "poly", "http": {"host": "127.0.0.1", "port": 0},
                    "store": {"kind": "sqlite", "url": ")" +
                    dir.file("p.db") + R"("},
                    "transport": {"kind": "inproc"},
                    "plugins": [{"library": ")" +
                    plexus::test::plugin("orders") + R"("}, {"library": ")" +
                    plexus::test::plugin("audit") + R"("}, {"library": ")" + loyalty + R"("}]})");
  auto r = runHost({"check", "--config", file});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  HostProcess host(file);
  EXPECT_EQ(http(host.port(), "GET", "/api/loyalty/nobody").body,
            R"({"customerId":"nobody","points":0})");
  EXPECT_EQ(http(host.port(), "POST", "/api/audit/o-1/notes", R"({"note": "hi"})").status, 201);
  EXPECT_EQ(
      nlohmann::json::parse(http(host.port(), "GET", "/api/audit/o-1").body)["entries"].size(), 1u);
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
  EXPECT_NE(first.out.find("7 applied, 0 already applied"), std::string::npos) << first.out;
  auto second = runHost({"migrate", "--config", file});
  ASSERT_EQ(second.exitCode, 0) << second.err;
  EXPECT_NE(second.out.find("0 applied, 7 already applied"), std::string::npos) << second.out;
}

// Defect 3 of issue 16: a migration with bad SQL passed `check`, and `run` / `migrate` failed
// with "Invalid SQL statement: incomplete input", naming neither the plugin nor the migration.
std::string sqliteConfig(const TempDir& dir, const std::string& plugin) {
  return dir.write("c.json", R"({"service": "mig", "http": {"host": "127.0.0.1", "port": 0},
                                 "store": {"kind": "sqlite", "url": ")" +
                                 dir.file("m.db") + R"("}, "plugins": [{"library": ")" +
                                 plexus::test::testPlugin(plugin) + R"("}]})");
}
const char* const kBroken = "migration bad_migration v2 (broken table) failed: ";

TEST(HostBinary, CheckDryRunsMigrationsAndNamesABrokenOne) {
  TempDir dir;
  const std::string file = sqliteConfig(dir, "test_bad_migration");
  auto r = runHost({"check", "--config", file});
  EXPECT_EQ(r.exitCode, 78) << r.out;
  EXPECT_NE(r.err.find(kBroken), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CREATE TABLE bad_broken"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("m.db"))) << "check created the store file";
}

TEST(HostBinary, MigrateAndRunNameABrokenMigration) {
  TempDir dir;
  const std::string file = sqliteConfig(dir, "test_bad_migration");
  auto r = runHost({"migrate", "--config", file});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find(kBroken), std::string::npos) << r.err;
  HostProcess host(file);  // SQLite hosts migrate at start and stay not ready
  EXPECT_EQ(http(host.port(), "GET", "/health/ready").status, 503);
  EXPECT_NE(host.output().find(kBroken), std::string::npos) << host.output();
}

TEST(HostBinary, CheckReportsAnAppliedMigrationWhoseTextChanged) {
  TempDir dir;
  const std::string file = sqliteConfig(dir, "testkit");
  auto r = runHost({"check", "--config", file});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("migrations: 7 pending, dry run passed (rolled back)"), std::string::npos)
      << r.out;
  ASSERT_EQ(runHost({"migrate", "--config", file}).exitCode, 0);
  r = runHost({"check", "--config", file});
  EXPECT_NE(r.out.find("migrations: 0 pending"), std::string::npos) << r.out;
  {
    plexus::config::Store cfg;
    cfg.kind = "sqlite";
    cfg.url = dir.file("m.db");
    auto db = plexus::store::Store::open(cfg, 1);
    auto tx = db->begin();
    tx->exec("UPDATE plexus_migrations SET checksum = 'edited' WHERE owner = 'testkit'");
    tx->commit();
  }
  r = runHost({"check", "--config", file});
  EXPECT_EQ(r.exitCode, 78);
  EXPECT_NE(r.err.find("migration testkit v1 ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("was changed after it was applied"), std::string::npos) << r.err;
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
