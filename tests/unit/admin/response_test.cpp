// Query strings and times of the admin API; the console's public files in the authenticator;
// the console config section.
#include "admin/response.hpp"
#include "config/config.hpp"
#include "http/auth.hpp"

#include <gtest/gtest.h>

namespace {

using plexus::admin::BadParam;
using plexus::admin::Query;

TEST(AdminQuery, DecodesAndBoundsValues) {
  const Query q("type=Order%20Created&reason=a+b&limit=20&empty=&flag");
  EXPECT_EQ(q.text("type"), "Order Created");
  EXPECT_EQ(q.text("reason"), "a b");
  EXPECT_EQ(q.text("missing"), "");
  EXPECT_EQ(q.integer("limit", 100, 1, 1000), 20);
  EXPECT_EQ(q.integer("missing", 100, 1, 1000), 100);
  EXPECT_THROW(q.integer("limit", 100, 1, 10), BadParam);
  EXPECT_THROW(Query("limit=%zz"), BadParam);
  EXPECT_THROW(Query("limit=1e3").integer("limit", 1, 1, 5000), BadParam);
  EXPECT_THROW(Query("type=" + std::string(300, 'x')).text("type"), BadParam);
}

TEST(AdminQuery, TimesAreRfc3339OrUnixMs) {
  EXPECT_EQ(Query("since=2026-01-02T05:04:05%2B02:00").time("since"), 1767323045000);
  EXPECT_THROW(Query("since=2026-01-02T03:04:05").time("since"), BadParam);  // no zone
  EXPECT_EQ(Query("since=1700000000000").time("since"), 1700000000000);
  EXPECT_THROW(Query("since=yesterday").time("since"), BadParam);
}

TEST(ConsoleFiles, OnlyTheStaticFilesSkipTheToken) {
  using plexus::http::Authenticator;
  for (const char* ok : {"/admin/console", "/admin/console/", "/admin/console/console.js",
                         "/admin/console/index.html"}) {
    EXPECT_TRUE(Authenticator::publicAsset(ok)) << ok;
  }
  for (const char* no : {"/admin/consolex", "/admin/console/a/b", "/admin/console/../overview",
                         "/admin/console/..", "/admin/console/%2e%2e", "/admin/overview",
                         "/admin/console/.hidden", "/admin/dead-letters"}) {
    EXPECT_FALSE(Authenticator::publicAsset(no)) << no;
  }
}

plexus::config::Config parse(const std::string& console) {
  return plexus::config::parse(R"({"service": "s", "plugins": [], "console": )" + console + "}",
                               "c.json", [](const std::string& v) -> std::optional<std::string> {
                                 if (v == "OFF") return std::string();
                                 return std::nullopt;
                               });
}

TEST(ConsoleConfig, PeersAreHttpBaseUrls) {
  const auto c = parse(R"({"peer_timeout_ms": 700, "peers": [
      {"name": "order-service", "url": "http://order-service"},
      {"name": "local", "url": "http://127.0.0.1:8081/base/"},
      {"name": "off", "url": "${OFF:-}"}]})");
  ASSERT_EQ(c.console.peers.size(), 2u);  // an empty url leaves the peer out
  EXPECT_EQ(c.console.peerTimeoutMs, 700);
  EXPECT_EQ(c.console.peers[0].host, "order-service");
  EXPECT_EQ(c.console.peers[0].port, 80);
  EXPECT_EQ(c.console.peers[1].port, 8081);
  EXPECT_EQ(c.console.peers[1].basePath, "/base");
  EXPECT_EQ(c.console.peers[1].url, "http://127.0.0.1:8081/base");
  EXPECT_EQ(parse("{}").console.sampleSeconds, 5);
}

TEST(ConsoleConfig, BadPeersNameTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"peers": [{"name": "a", "url": "https://a"}]})", "/console/peers/0/url"},
      {R"({"peers": [{"name": "a", "url": "http://u:p@a"}]})", "/console/peers/0/url"},
      {R"({"peers": [{"name": "a", "url": "http://a:99999"}]})", "/console/peers/0/url"},
      {R"({"peers": [{"name": "A b", "url": "http://a"}]})", "/console/peers/0/name"},
      {R"({"peers": [{"name": "a", "url": "http://a"}, {"name": "a", "url": "http://b"}]})",
       "/console/peers/1/name"},
      {R"({"peers": {}})", "/console/peers"},
      {R"({"sample_seconds": 0})", "/console/sample_seconds"},
      {R"({"colour": 1})", "/console/colour"}};
  for (const auto& [text, where] : cases) {
    try {
      parse(text);
      ADD_FAILURE() << text;
    } catch (const plexus::config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
  }
}

}  // namespace
