#include "observability/process_metrics.hpp"

#include "observability/metrics.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <ctime>

namespace {

using namespace plexus;

// A real line of /proc/<pid>/stat, with a command name holding a space and a ')'.
const char* kStat =
    "4242 (plexus host) x) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 50 0 0 20 0 9 0 "
    "12345 823000000 5000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";

TEST(ProcessMetrics, ParsesStat) {
  const auto s = process::parseStat(kStat, 100, 4096, 1700000000);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpuSeconds, 3.0);  // (250 + 50) ticks / 100
  EXPECT_DOUBLE_EQ(s->threads, 9);
  EXPECT_DOUBLE_EQ(s->startTimeSeconds, 1700000000 + 123.45);
  EXPECT_DOUBLE_EQ(s->virtualBytes, 823000000);
  EXPECT_DOUBLE_EQ(s->residentBytes, 5000.0 * 4096);
  EXPECT_FALSE(process::parseStat("4242 (short) S 1 2 3", 100, 4096, 0));
  EXPECT_FALSE(process::parseStat("garbage", 100, 4096, 0));
}

TEST(ProcessMetrics, ParsesBootTime) {
  EXPECT_EQ(process::parseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"), 1700000000);
  EXPECT_FALSE(process::parseBootTime("cpu 1 2 3\n"));
}

TEST(ProcessMetrics, ReadsThisProcess) {
  const auto s = process::readSelf();
  ASSERT_TRUE(s);
  EXPECT_GT(s->residentBytes, 0);
  EXPECT_GE(s->virtualBytes, s->residentBytes);
  EXPECT_GE(s->threads, 1);
  EXPECT_GE(s->openFds, 3);  // stdin, stdout, stderr at least
  EXPECT_GE(s->maxFds, s->openFds);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(s->startTimeSeconds, now + 1);
  EXPECT_GT(s->startTimeSeconds, now - 3600);  // this test binary started recently
}

TEST(ProcessMetrics, AppearInTheScrapeWithTheInfoGauges) {
  Metrics m;
  process::registerMetrics(m, "1.2.3", "1.1", {{"orders", "1.0.0"}, {"payments", "2.0.0"}});
  const std::string text = m.scrape();
  for (const char* family :
       {"# TYPE process_cpu_seconds_total counter", "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_virtual_memory_bytes gauge", "# TYPE process_open_fds gauge",
        "# TYPE process_max_fds gauge", "# TYPE process_threads gauge",
        "# TYPE process_start_time_seconds gauge"}) {
    EXPECT_NE(text.find(family), std::string::npos) << family << "\n" << text;
  }
  EXPECT_NE(text.find("plexus_build_info{abi_version=\"1.1\",version=\"1.2.3\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("plexus_plugin_info{plugin=\"orders\",version=\"1.0.0\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("plexus_plugin_info{plugin=\"payments\",version=\"2.0.0\"} 1"),
            std::string::npos);
}

}  // namespace
