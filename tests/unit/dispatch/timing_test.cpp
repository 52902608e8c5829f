// The time-dependent decisions of dispatch, with a manual clock: retry backoff and its bounds,
// the give-up point, which stored delivery may run now (due times, leases of other replicas),
// and the retention cut-off.
#include "base/clock.hpp"
#include "dispatch/retention.hpp"
#include "dispatch/retry_policy.hpp"
#include "dispatch/scheduler.hpp"
#include "store/inbox.hpp"
#include "store/migrations.hpp"

#include <gtest/gtest.h>

namespace {

using plexus::dispatch::RetryOptions;
using plexus::dispatch::RetryPolicy;
using plexus::store::deliveries::Delivery;

TEST(RetryPolicy, BackoffDoublesFromTheInitialDelayUpToTheCap) {
  const RetryPolicy p(RetryOptions{10, 200, 1000}, [] { return 1.0; });
  EXPECT_EQ(p.backoffMs(1), 200);
  EXPECT_EQ(p.backoffMs(2), 400);
  EXPECT_EQ(p.backoffMs(3), 800);
  EXPECT_EQ(p.backoffMs(4), 1000);   // capped
  EXPECT_EQ(p.backoffMs(40), 1000);  // and stays there (no overflow)
}

TEST(RetryPolicy, JitterSpreadsWithinTwentyPercent) {
  double factor = 0.8;
  const RetryPolicy p(RetryOptions{10, 1000, 60000}, [&] { return factor; });
  EXPECT_EQ(p.backoffMs(1), 800);
  factor = 1.2;
  EXPECT_EQ(p.backoffMs(1), 1200);
  const RetryPolicy random(RetryOptions{10, 1000, 60000});
  for (int i = 0; i < 200; ++i) {
    const int64_t ms = random.backoffMs(1);
    EXPECT_GE(ms, 800);
    EXPECT_LT(ms, 1200);
  }
}

TEST(RetryPolicy, RejectOrTheLastAttemptGivesUp) {
  const RetryPolicy p(RetryOptions{3, 100, 1000}, [] { return 1.0; });
  EXPECT_EQ(p.nextDelayMs(PLEXUS_RETRY, 1), 100);
  EXPECT_EQ(p.nextDelayMs(PLEXUS_RETRY, 2), 200);
  EXPECT_EQ(p.nextDelayMs(PLEXUS_RETRY, 3), -1);   // max attempts used up
  EXPECT_EQ(p.nextDelayMs(PLEXUS_REJECT, 1), -1);  // permanent: at once
}

Delivery delivery(int64_t seq, const std::string& stream, int64_t dueAt,
                  const std::string& claimedBy = "", int64_t claimedUntil = 0) {
  Delivery d;
  d.seq = seq;
  d.handler = "p/h";
  d.message.stream = stream;
  d.message.id = "m" + std::to_string(seq);
  d.dueAt = dueAt;
  d.claimedBy = claimedBy;
  d.claimedUntil = claimedUntil;
  return d;
}

TEST(Scheduling, OnlyTheDueHeadOfEachStreamRuns) {
  plexus::ManualClock clock(10000);
  const std::vector<Delivery> head{delivery(1, "a", 9000), delivery(2, "a", 9000),
                                   delivery(3, "b", 12000), delivery(4, "b", 9000),
                                   delivery(5, "c", 10000)};
  int64_t nextDue = 0;
  auto run = plexus::dispatch::selectRunnable(head, clock.nowMs(), "me", {}, {}, nextDue);
  ASSERT_EQ(run.size(), 2u);
  EXPECT_EQ(run[0].seq, 1);   // a's head; a's second waits behind it
  EXPECT_EQ(run[1].seq, 5);   // c is due exactly now
  EXPECT_EQ(nextDue, 12000);  // b's head is a retry in backoff: it holds b, and wakes us then
  clock.advance(std::chrono::milliseconds(2000));
  run = plexus::dispatch::selectRunnable(head, clock.nowMs(), "me", {}, {}, nextDue);
  ASSERT_EQ(run.size(), 3u);
  EXPECT_EQ(run[1].seq, 3);
  EXPECT_EQ(nextDue, 0);
}

TEST(Scheduling, AnotherReplicasLeaseHoldsUntilItExpires) {
  plexus::ManualClock clock(10000);
  const std::vector<Delivery> head{delivery(1, "a", 0, "other", 40000),
                                   delivery(2, "b", 0, "me", 40000)};
  int64_t nextDue = 0;
  auto run = plexus::dispatch::selectRunnable(head, clock.nowMs(), "me", {}, {}, nextDue);
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0].seq, 2);  // our own claim does not hold us back
  clock.set(40001);          // the other replica went silent past its lease
  run = plexus::dispatch::selectRunnable(head, clock.nowMs(), "me", {}, {}, nextDue);
  EXPECT_EQ(run.size(), 2u);
}

TEST(Scheduling, WhatRunsOrIsQueuedHereIsNotTakenTwice) {
  const std::vector<Delivery> head{delivery(1, "a", 0), delivery(2, "b", 0)};
  int64_t nextDue = 0;
  const auto run = plexus::dispatch::selectRunnable(head, 5, "me", {{"a", "p/h"}}, {2}, nextDue);
  EXPECT_TRUE(run.empty());
}

TEST(Retention, PurgesWhatIsOlderThanTheRetentionAndNothingElse) {
  plexus::ManualClock clock(100 * 3600 * 1000LL);
  plexus::config::Store cfg;
  cfg.kind = "sqlite";
  cfg.url = ":memory:";
  auto db = plexus::store::Store::open(cfg, 1);
  plexus::store::migrate(*db, {});
  const int64_t hour = 3600 * 1000LL;
  {
    auto tx = db->begin();
    plexus::store::inbox::record(*tx, "old", "h", clock.nowMs() - 3 * hour);
    plexus::store::inbox::record(*tx, "new", "h", clock.nowMs() - 1 * hour);
    tx->commit();
  }
  plexus::dispatch::Retention retention(*db, clock, 2 * hour);
  EXPECT_EQ(retention.cutoffMs(), clock.nowMs() - 2 * hour);
  EXPECT_EQ(retention.purge(), 1);
  clock.advance(std::chrono::hours(2));  // now "new" is 3 h old too
  EXPECT_EQ(retention.purge(), 1);
  auto tx = db->begin();
  EXPECT_FALSE(plexus::store::inbox::handled(*tx, "new", "h"));
}

}  // namespace
