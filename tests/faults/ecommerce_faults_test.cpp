// The fault suite (issue 7, item 1): seven hosts on real PostgreSQL and RabbitMQ under a steady
// order load, while a seeded schedule kills hosts with SIGKILL (plain, and at the named points of
// dispatch/fault.hpp: before commit, after commit before ack, after publish before the outbox row
// is marked, mid-relay), restarts RabbitMQ and stops PostgreSQL in immediate mode. The oracle is a
// side-effect ledger read from the databases and the SMTP sink (order_ledger.hpp): reservations,
// captures, shipments, notifications and read-model increments. Pass: 0 lost, 0 duplicated, every
// order terminal, stock arithmetic exact. PLEXUS_FAULT_SEED picks another schedule; the counts are
// printed in Jepsen style.
#include "order_ledger.hpp"
#include "smtp_sink.hpp"
#include "system.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

namespace plexus::faults {
namespace {

struct Fault {
  std::string kind;  // kill | point | rabbitmq | postgres
  std::string service;
  std::string point;
  int n = 0;
  bool fired = false;  // point faults: the host died at the point
  int64_t atMs = 0;
};

std::string describe(const Fault& f) {
  if (f.kind == "kill") return "kill -9 " + f.service;
  if (f.kind == "point") {
    return "kill -9 " + f.service + ", restart armed with PLEXUS_FAULT=" + f.point + ":" +
           std::to_string(f.n);
  }
  if (f.kind == "rabbitmq") return "RabbitMQ stop/start";
  return "PostgreSQL immediate stop/start";
}

TEST(Faults, NothingLostNothingDuplicatedUnderKillsAndServerRestarts) {
  const char* seedText = std::getenv("PLEXUS_FAULT_SEED");
  const unsigned seed = seedText != nullptr ? static_cast<unsigned>(std::stoul(seedText)) : 7u;
  std::mt19937 rng(seed);
  std::cout << "[faults] seed " << seed << " (PLEXUS_FAULT_SEED)\n";

  test::SmtpSink smtp;
  System system(smtp);
  const std::string run = "f" + std::to_string(::getpid());

  // Products (six ample, two scarce, fought over so some orders cancel) and the orders, decided up
  // front from the seed; the load places them, about two a second, until the schedule is done.
  const int maxOrders = 400, minOrders = 150;
  Catalog catalog = stockAndPlan(system, rng, run, maxOrders);
  OrderLoad load(system, catalog.orders, minOrders);

  // The seeded fault schedule: every named point at least once, plain kills, both servers.
  const std::vector<std::string> publishers{"order-service", "inventory-worker", "payment-worker",
                                            "shipping-worker", "notification-worker"};
  const std::vector<std::string> points{"before_commit", "after_commit_before_ack",
                                        "after_publish_before_mark", "mid_relay"};
  std::vector<Fault> schedule;
  for (const auto& p : points) {
    const bool publishing = p == "after_publish_before_mark" || p == "mid_relay";
    const auto& pool = publishing ? publishers : kServices;
    schedule.push_back(
        Fault{"point", pool[rng() % pool.size()], p, 1 + static_cast<int>(rng() % 5)});
  }
  for (int i = 0; i < 2; ++i)
    schedule.push_back(Fault{"kill", kServices[rng() % kServices.size()]});
  std::shuffle(schedule.begin(), schedule.end(), rng);
  // The server restarts go into the second and last third, so the load is running for both.
  schedule.insert(schedule.begin() + static_cast<long>(schedule.size() / 3), Fault{"rabbitmq"});
  schedule.insert(schedule.begin() + static_cast<long>(2 * schedule.size() / 3), Fault{"postgres"});

  const int64_t startMs = nowMs();
  // One deadline for all seven (not one each: seven in a row outlived ctest's timeout).
  auto allReady = [&](int timeoutMs) {
    const int64_t until = nowMs() + timeoutMs;
    for (const auto& s : kServices)
      system.waitReady(s, static_cast<int>(std::max<int64_t>(until - nowMs(), 1000)));
  };
  std::string scheduleError;
  try {
    for (Fault& f : schedule) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 3000));  // schedule gap
      f.atMs = nowMs();
      std::cout << "[faults] t=" << (f.atMs - startMs) / 1000 << " s: " << describe(f) << std::endl;
      if (f.kind == "kill") {
        system.kill(f.service);
        system.start(f.service);
      } else if (f.kind == "point") {
        system.kill(f.service);
        system.start(f.service, f.point + ":" + std::to_string(f.n));
        f.fired = test::eventually([&] { return system.exited(f.service); }, 60000, 100);
        if (!f.fired) system.kill(f.service);
        system.start(f.service);
        std::cout << "[faults]   " << (f.fired ? "fired" : "not reached in 60 s") << std::endl;
      } else if (f.kind == "rabbitmq") {
        System::services("stop", "rabbitmq");
        std::this_thread::sleep_for(std::chrono::seconds(2));  // an outage, not a blip
        System::services("start", "rabbitmq");
      } else {
        System::services("stop", "postgres", "PLEXUS_PG_STOP_MODE=immediate");
        std::this_thread::sleep_for(std::chrono::seconds(2));  // an outage, not a blip
        System::services("start", "postgres");
      }
      allReady(180000);
    }
  } catch (const std::exception& e) {
    scheduleError = e.what();  // still stop the load below: a joinable thread must not be left
  }
  if (scheduleError.empty())
    load.stop();
  else
    load.abort();
  ASSERT_TRUE(scheduleError.empty()) << "the fault schedule failed: " << scheduleError << "\n"
                                     << system.output().substr(0, 20000);
  ASSERT_TRUE(load.error().empty()) << load.error();
  const size_t accepted = acceptedCount(catalog.orders);
  ASSERT_GE(accepted, static_cast<size_t>(minOrders));

  std::vector<int64_t> faultTimes;
  for (const Fault& f : schedule) faultTimes.push_back(f.atMs);
  const Verdict v = judge(smtp, catalog.orders, catalog.initial, run, faultTimes);

  int fired = 0, plain = 0, servers = 0;
  for (const Fault& f : schedule) {
    if (f.kind == "point") (f.fired ? fired : plain) += 1;
    if (f.kind == "kill") ++plain;
    if (f.kind == "rabbitmq" || f.kind == "postgres") ++servers;
  }
  std::cout << "[faults] ---- result (seed " << seed << ") ----\n"
            << "[faults] faults injected   " << schedule.size() << " (" << fired
            << " kill -9 at a named point, " << plain << " plain kill -9, " << servers
            << " server stop/start) + the kill -9 before each armed restart\n";
  print("faults", v, accepted, load);

  EXPECT_TRUE(v.settled) << "the system did not settle: " << v.pendingWhy;
  EXPECT_EQ(v.lost, 0);
  EXPECT_EQ(v.duplicated, 0);
  EXPECT_TRUE(v.stockProblems.empty());
  EXPECT_GE(fired, 4) << "fewer named fault points fired than scheduled kinds";
  // Each counted firing is a host that logged "fault injected" and died, not some other crash.
  const std::string out = system.output();
  int injected = 0;
  for (size_t at = out.find("\"msg\":\"fault injected\""); at != std::string::npos;
       at = out.find("\"msg\":\"fault injected\"", at + 1)) {
    ++injected;
  }
  EXPECT_EQ(injected, fired);
  EXPECT_EQ(load.notAccepted(), 0);
  if (HasFailure()) {
    std::cout << "[faults] last host output:\n"
              << out.substr(out.size() > 20000 ? out.size() - 20000 : 0);
  }
}

}  // namespace
}  // namespace plexus::faults
