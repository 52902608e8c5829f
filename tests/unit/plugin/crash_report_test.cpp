// The crash report's line, written the way the fatal-signal handler writes it (fixed buffers, no
// allocation): valid JSON whatever the names hold, innermost call first.
#include "plugin/crash_report.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <string>

namespace {

using plexus::plugin::crash::CallScope;

nlohmann::json reportNow(int sig) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const size_t n = plexus::plugin::crash::writeReportForTesting(fds[1], sig);
  ::close(fds[1]);
  std::string text(n, '\0');
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fds[0], &text[got], n - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fds[0]);
  EXPECT_EQ(text.back(), '\n');
  return nlohmann::json::parse(text);
}

TEST(CrashReport, NamesNothingOutsidePluginCode) {
  const auto j = reportNow(SIGSEGV);
  EXPECT_EQ(j["level"], "fatal");
  EXPECT_EQ(j["signal"], "SIGSEGV");
  EXPECT_FALSE(j.contains("plugin"));
  EXPECT_NE(j["msg"].get<std::string>().find("outside plugin code"), std::string::npos);
}

TEST(CrashReport, NamesTheInnermostCallAndTheOneAroundIt) {
  const std::string plugin = "odd \"name\"\n", route = "PostThing", request = "req-1";
  const std::string inner = "Receptor", id = "0190-id";
  CallScope outer(plugin, route, "route", "POST /api/things", request);
  {
    CallScope nested(plugin, inner, "message", "DoThing", id);
    const auto j = reportNow(SIGFPE);
    EXPECT_EQ(j["signal"], "SIGFPE");
    EXPECT_EQ(j["plugin"], plugin);
    EXPECT_EQ(j["component"], "Receptor");
    EXPECT_EQ(j["message_type"], "DoThing");
    EXPECT_EQ(j["message_id"], "0190-id");
    EXPECT_EQ(j["inside"]["component"], "PostThing");
    EXPECT_EQ(j["inside"]["route"], "POST /api/things");
    EXPECT_EQ(j["inside"]["request_id"], "req-1");
  }
  const auto j = reportNow(SIGBUS);  // the nested scope ended: the route again
  EXPECT_EQ(j["component"], "PostThing");
  EXPECT_FALSE(j.contains("inside"));
}

TEST(CrashReport, CutsOverlongNamesAndStaysValidJson) {
  const std::string huge(10000, 'x');
  CallScope scope(huge, huge, "message", huge, huge);
  const auto j = reportNow(SIGILL);
  EXPECT_EQ(j["plugin"].get<std::string>().size(), 300u);
  const std::string controls(2000, '\x01');  // 6 bytes each once escaped
  CallScope escaped(controls, controls, "route", controls, controls);
  EXPECT_TRUE(reportNow(SIGSEGV).is_object());
}

}  // namespace
