// Readiness against a store that hangs: the probe answers within its budget with the reason, at
// most one check runs at a time, and the store's answer counts again once it comes.
#include "http/health.hpp"

#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace {

using Clock = std::chrono::steady_clock;

// ping() blocks until released, like a PostgreSQL that stopped answering.
class HangingStore : public plexus::store::Store {
 public:
  const plexus::store::Dialect& dialect() const override { return plexus::store::sqliteDialect(); }
  std::unique_ptr<plexus::store::Transaction> begin() override {
    throw plexus::store::SqlError("not used", false);
  }
  bool ping(std::string& error) override {
    ++pings;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return !hung; });
    error.clear();
    return true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      hung = false;
    }
    cv.notify_all();
  }
  std::atomic<int> pings{0};

 private:
  std::mutex mu;
  std::condition_variable cv;
  bool hung = true;
};

TEST(Health, AHangingStoreIsReportedWithinTheBudgetAndRecovers) {
  plexus::Metrics metrics;
  plexus::plugin::Runtime runtime(metrics);
  std::atomic<bool> draining{false};
  HangingStore store;
  std::atomic<bool> migrated{true};
  plexus::http::Health health("svc", 60, runtime, draining);
  health.attach(&store, nullptr, &migrated);

  for (int i = 0; i < 2; ++i) {
    const auto t = Clock::now();
    const auto r = health.ready();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
    EXPECT_EQ(r.status, 503);
    const auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["checks"]["store"], "not answering");
    EXPECT_NE(body["reasons"][0].get<std::string>().find("store not answering"), std::string::npos);
    EXPECT_GE(ms, plexus::http::Health::kStoreCheckBudget.count() - 50);
    EXPECT_LT(ms, plexus::http::Health::kStoreCheckBudget.count() + 2000);
  }
  EXPECT_EQ(store.pings.load(), 1);  // the second probe waited for the same check
  store.release();
  const auto r = health.ready();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["checks"]["store"], "ok");
}

}  // namespace
