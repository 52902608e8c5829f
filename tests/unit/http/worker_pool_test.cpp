#include "http/worker_pool.hpp"

#include "../../support/wait.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace {

using plexus::http::WorkerPool;

// Jobs that wait for a gate, so the test controls when workers are busy.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(WorkerPool, FullQueueRefusesAtOnceAndThreadsGrowOnDemandToTheMaximum) {
  Gate gate;
  std::atomic<int> ran{0};
  WorkerPool pool("test-pool", 2, 3);
  EXPECT_EQ(pool.threads(), 1);  // started on demand
  auto job = [&] {
    gate.wait();
    ++ran;
  };
  int taken = 0;
  for (int i = 0; i < 10; ++i) taken += pool.trySubmit(job) ? 1 : 0;
  // 2 running + 3 queued at most; the exact split depends on how fast the threads pick jobs up.
  EXPECT_GE(taken, 3);
  EXPECT_LE(taken, 5);
  EXPECT_EQ(pool.threads(), 2);
  gate.release();
  ASSERT_TRUE(plexus::test::eventually([&] { return ran.load() == taken; }, 10000));
  EXPECT_TRUE(pool.trySubmit(job));
  ASSERT_TRUE(plexus::test::eventually([&] { return ran.load() == taken + 1; }, 10000));
}

TEST(WorkerPool, StopRunsWhatIsQueuedAndRefusesMore) {
  std::atomic<int> ran{0};
  WorkerPool pool("test-pool", 1, 100);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(pool.trySubmit([&] { ++ran; }));
  pool.stop();
  EXPECT_EQ(ran.load(), 20);
  EXPECT_FALSE(pool.trySubmit([&] { ++ran; }));
}

TEST(WorkerPool, AThrowingJobDoesNotKillItsThread) {
  std::atomic<int> ran{0};
  WorkerPool pool("test-pool", 1, 10);
  ASSERT_TRUE(pool.trySubmit([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(pool.trySubmit([&] { ++ran; }));
  ASSERT_TRUE(plexus::test::eventually([&] { return ran.load() == 1; }, 10000));
}

}  // namespace
