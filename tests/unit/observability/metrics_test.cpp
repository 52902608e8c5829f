#include "observability/metrics.hpp"

#include <gtest/gtest.h>

namespace {

using plexus::Metrics;

TEST(Metrics, PluginCounterAppearsWithHelpAfterUpdate) {
  Metrics m;
  std::string err;
  const int64_t id =
      m.define(Metrics::Kind::Counter, "orders_created_total", "Orders created.", {}, {}, err);
  ASSERT_GT(id, 0) << err;
  EXPECT_TRUE(m.update(id, {}, 1));
  EXPECT_TRUE(m.update(id, {}, 2));
  const std::string text = m.scrape();
  EXPECT_NE(text.find("# HELP orders_created_total Orders created."), std::string::npos);
  EXPECT_NE(text.find("orders_created_total 3"), std::string::npos) << text;
}

TEST(Metrics, SameDefinitionGivesSameId) {
  Metrics m;
  std::string err;
  const int64_t a = m.define(Metrics::Kind::Gauge, "queue_depth", "Depth.", {"queue"}, {}, err);
  EXPECT_EQ(m.define(Metrics::Kind::Gauge, "queue_depth", "Depth.", {"queue"}, {}, err), a);
  EXPECT_EQ(m.define(Metrics::Kind::Counter, "queue_depth", "Depth.", {}, {}, err), 0);
}

TEST(Metrics, RefusesBadDefinitions) {
  Metrics m;
  std::string err;
  EXPECT_EQ(m.define(Metrics::Kind::Counter, "orders_created", "x", {}, {}, err), 0);
  EXPECT_NE(err.find("_total"), std::string::npos);
  EXPECT_EQ(m.define(Metrics::Kind::Gauge, "depth_total", "x", {}, {}, err), 0);
  EXPECT_EQ(m.define(Metrics::Kind::Gauge, "plexus_mine", "x", {}, {}, err), 0);
  EXPECT_EQ(m.define(Metrics::Kind::Gauge, "9lives", "x", {}, {}, err), 0);
  EXPECT_EQ(m.define(Metrics::Kind::Gauge, "fine", "", {}, {}, err), 0);
  EXPECT_EQ(m.define(Metrics::Kind::Gauge, "fine", "x", {"__reserved"}, {}, err), 0);
  EXPECT_EQ(m.define(Metrics::Kind::Histogram, "lat_seconds", "x", {}, {1, 0.5}, err), 0);
}

TEST(Metrics, UpdateChecksLabelsAndSign) {
  Metrics m;
  std::string err;
  const int64_t id = m.define(Metrics::Kind::Counter, "sent_total", "Sent.", {"channel"}, {}, err);
  EXPECT_FALSE(m.update(id, {}, 1));
  EXPECT_FALSE(m.update(id, {"email"}, -1));
  EXPECT_TRUE(m.update(id, {"email"}, 1));
  EXPECT_FALSE(m.update(999, {}, 1));
  EXPECT_NE(m.scrape().find("sent_total{channel=\"email\"} 1"), std::string::npos);
}

TEST(Metrics, HttpSeriesUseRouteTemplates) {
  Metrics m;
  m.observeHttp("GET", "/api/orders/{id}", 200, 0.002);
  const std::string text = m.scrape();
  EXPECT_NE(
      text.find(
          "plexus_http_requests_total{code=\"200\",method=\"GET\",route=\"/api/orders/{id}\"} 1"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("# HELP plexus_http_request_duration_seconds"), std::string::npos);
}

}  // namespace
