// The console's flow sampler on a real metrics registry with a simulated clock.
#include "admin/flow_sampler.hpp"
#include "observability/metrics.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace {

using plexus::Metrics;
using plexus::admin::FlowSampler;

TEST(FlowSampler, QuantileInterpolatesInsideTheBucket) {
  const double inf = std::numeric_limits<double>::infinity();
  // 10 samples: 4 at or below 0.01, 10 at or below 0.1.
  const std::vector<std::pair<double, double>> b{{0.01, 4}, {0.1, 10}, {inf, 10}};
  EXPECT_NEAR(FlowSampler::quantile(0.5, b), 0.01 + 0.09 * (5.0 - 4.0) / 6.0, 1e-12);
  EXPECT_NEAR(FlowSampler::quantile(0.2, b), 0.005, 1e-12);
  EXPECT_LT(FlowSampler::quantile(0.5, {{0.01, 0}, {inf, 0}}), 0);  // no samples: none
  // Beyond the last finite bucket: its bound, as Prometheus answers.
  EXPECT_EQ(FlowSampler::quantile(0.99, {{0.01, 1}, {inf, 10}}), 0.01);
}

TEST(FlowSampler, RatesAndPercentilesFromConsecutiveSamples) {
  Metrics metrics;
  std::string error;
  const auto handled = metrics.define(Metrics::Kind::Counter, "plexus_messages_handled_total", "h",
                                      {"type", "handler"}, {}, error, true);
  const auto duration = metrics.define(Metrics::Kind::Histogram, "plexus_handler_duration_seconds",
                                       "d", {"handler"}, {0.01, 0.1, 1}, error, true);
  const auto pending =
      metrics.define(Metrics::Kind::Gauge, "plexus_outbox_pending", "p", {}, {}, error, true);
  ASSERT_TRUE(handled && duration && pending) << error;
  int64_t now = 1'000'000;
  int refreshed = 0;
  FlowSampler flow(metrics, 5, 1, [&] { return now; });
  flow.setRefresh([&] { ++refreshed; });
  flow.sampleNow();  // before anything happened
  metrics.update(handled, {"OrderCreated", "orders/View"}, 10);
  for (int i = 0; i < 10; ++i) metrics.update(duration, {"orders/View"}, 0.05);
  metrics.update(pending, {}, 3);
  metrics.observeHttp("POST", "/api/orders", 201, 0.002);
  metrics.observeHttp("POST", "/api/orders", 503, 0.002);
  now += 5000;
  flow.sampleNow();
  now += 5000;
  flow.sampleNow();  // nothing new in this interval
  EXPECT_EQ(refreshed, 3);

  const nlohmann::json s = flow.series(1);
  ASSERT_EQ(s["times"].size(), 2u);
  ASSERT_EQ(s["handlers"].size(), 1u);
  const auto& h = s["handlers"][0];
  EXPECT_EQ(h["type"], "OrderCreated");
  EXPECT_EQ(h["handled"], nlohmann::json::array({2.0, 0.0}));  // 10 in 5 s, then none
  EXPECT_EQ(h["failed"], nlohmann::json::array({0.0, 0.0}));
  EXPECT_EQ(h["totals"]["handled"], 10.0);
  ASSERT_EQ(s["latency"].size(), 1u);
  EXPECT_NEAR(s["latency"][0]["p50"][0].get<double>(), 0.055, 1e-3);
  EXPECT_TRUE(s["latency"][0]["p50"][1].is_null());  // no samples in the second interval
  EXPECT_EQ(s["outbox"]["pending"], nlohmann::json::array({3.0, 3.0}));  // a gauge, as it is
  ASSERT_EQ(s["http"].size(), 1u);
  EXPECT_EQ(s["http"][0]["byClass"]["2xx"][0], 0.2);
  EXPECT_EQ(s["http"][0]["byClass"]["5xx"][0], 0.2);
  EXPECT_EQ(flow.summary()["totals"]["handled"], 10.0);
  EXPECT_EQ(flow.summary()["perSecond"]["handled"], 1.0);  // 10 over the last 10 s
}

TEST(FlowSampler, TheRingKeepsOnlyTheHistory) {
  Metrics metrics;
  int64_t now = 0;
  FlowSampler flow(metrics, 5, 1, [&] { return now; });  // 1 minute: 13 samples
  for (int i = 0; i < 100; ++i) {
    flow.sampleNow();
    now += 5000;
  }
  EXPECT_EQ(flow.series(1)["times"].size(), 12u);
}

}  // namespace
