#pragma once
// What the fault suites share: a seeded set of orders, the closed-loop client that places them on
// the order service while faults happen, and the oracle — a side-effect ledger read from the seven
// deployments' databases and the SMTP sink once the system settled (every accepted order terminal,
// nothing lost, nothing duplicated, stock arithmetic exact, emails counted by distinct Message-ID).

#include "smtp_sink.hpp"
#include "store/store.hpp"
#include "system.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace plexus::faults {

int64_t nowMs();

struct Line {
  std::string product;
  int quantity;
  int priceCents;
};

struct Order {
  int index = 0;
  std::string key;  // Idempotency-Key: retries after a failure are the same order
  std::string customer;
  std::string payment;  // "card" or "pm_card_declined"
  std::vector<Line> lines;
  bool scarce = false;  // competes for a product that runs out
  // Filled once accepted.
  std::string id;
  int64_t acceptedAtMs = 0;
  int attempts = 0;

  int64_t totalCents() const;
  nlohmann::json body() const;
};

// Six ample products and two scarce ones (12 each, fought over, so some orders cancel), stocked
// through the inventory service; then `count` orders decided from `rng`.
struct Catalog {
  std::map<std::string, int> initial;  // product -> stock at the start
  std::vector<Order> orders;
};
Catalog stockAndPlan(System& system, std::mt19937& rng, const std::string& run, int count);

// About two orders a second, each retried (same Idempotency-Key) until the order service accepts
// it; stops after `minOrders` once stop() was called.
class OrderLoad {
 public:
  OrderLoad(System& system, std::vector<Order>& orders, int minOrders);
  ~OrderLoad();
  void stop();   // joins once at least minOrders were placed
  void abort();  // joins at once: the run already failed, waiting for minOrders would hang
  int placed() const { return placed_; }
  int retried() const { return retried_; }
  int notAccepted() const { return notAccepted_; }
  const std::string& error() const { return error_; }

 private:
  System& system_;
  std::vector<Order>& orders_;
  int minOrders_;
  std::atomic<bool> stop_{false}, abort_{false};
  std::atomic<int> placed_{0}, retried_{0}, notAccepted_{0};
  std::string error_;
  std::thread thread_;
};

// How many of `orders` the order service accepted.
size_t acceptedCount(const std::vector<Order>& orders);

class Ledger {
 public:
  explicit Ledger(const std::string& url);
  Rows query(const std::string& sql, const std::vector<Value>& params = {});

 private:
  std::unique_ptr<store::Store> db_;
};

struct Verdict {
  bool settled = false;
  std::string pendingWhy;
  int lost = 0, duplicated = 0, recovered = 0, shipped = 0, cancelled = 0;
  int emailsReceived = 0, emailsRedelivered = 0, unsentPending = 0;
  std::vector<std::string> problems;       // the first 20 orders that are wrong, and why
  std::vector<std::string> stockProblems;  // products whose arithmetic is off
  // When each accepted order completed (orders_view.updated_at of terminal orders), sorted.
  std::vector<int64_t> completions;
};

// Waits (up to 240 s) until every accepted order is terminal and no outbox row or delivery is
// pending anywhere, then reads the ledger. `faultTimesMs`: when faults hit (an order in flight
// across one and still right counts as recovered).
Verdict judge(test::SmtpSink& smtp, const std::vector<Order>& orders,
              const std::map<std::string, int>& initial, const std::string& run,
              const std::vector<int64_t>& faultTimesMs);

// The counts, Jepsen style, under a "[tag]" prefix.
void print(const std::string& tag, const Verdict& v, size_t accepted, const OrderLoad& load);

// The longest time without a completed order that overlaps [fromMs, toMs]: the longest gap
// between two consecutive completions around a fault.
int64_t longestPause(const std::vector<int64_t>& completions, int64_t fromMs, int64_t toMs);

}  // namespace plexus::faults
