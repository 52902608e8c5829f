// The fault suite (issue 7, item 1): seven hosts on real PostgreSQL and RabbitMQ under a steady
// order load, while a seeded schedule kills hosts with SIGKILL (plain, and at the named points of
// dispatch/fault.hpp: before commit, after commit before ack, after publish before the outbox row
// is marked, mid-relay), restarts RabbitMQ and stops PostgreSQL in immediate mode. The oracle is a
// side-effect ledger read from the databases and the SMTP sink: reservations, captures,
// shipments, notifications and read-model increments. Pass: 0 lost, 0 duplicated, every order
// terminal, stock arithmetic exact. PLEXUS_FAULT_SEED picks another schedule; the counts are
// printed in Jepsen style.
#include "smtp_sink.hpp"
#include "store/store.hpp"
#include "support.hpp"
#include "system.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace plexus::faults {
namespace {

using nlohmann::json;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

  int64_t totalCents() const {
    int64_t t = 0;
    for (const auto& l : lines) t += int64_t{l.quantity} * l.priceCents;
    return t;
  }
  json body() const {
    json items = json::array();
    for (const auto& l : lines) {
      items.push_back({{"productId", l.product},
                       {"quantity", l.quantity},
                       {"unitPrice", l.priceCents / 100.0}});
    }
    return json{{"customerId", customer},
                {"items", items},
                {"paymentMethod", payment},
                {"shippingAddress",
                 {{"street", "1 Main St"},
                  {"city", "Springfield"},
                  {"state", "IL"},
                  {"zipCode", "62701"},
                  {"country", "US"}}}};
  }
};

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

class Ledger {
 public:
  explicit Ledger(const std::string& url) {
    config::Store sc;
    sc.kind = "postgresql";
    sc.url = url;
    db_ = store::Store::open(sc, 1);
  }
  Rows query(const std::string& sql, const std::vector<Value>& params = {}) {
    auto tx = db_->begin();
    Rows r = tx->query(sql, params);
    tx->commit();
    return r;
  }

 private:
  std::unique_ptr<store::Store> db_;
};

bool terminal(const std::string& status) {
  return status == "Shipped" || status == "Delivered" || status == "Cancelled";
}

TEST(Faults, NothingLostNothingDuplicatedUnderKillsAndServerRestarts) {
  const char* seedText = std::getenv("PLEXUS_FAULT_SEED");
  const unsigned seed = seedText != nullptr ? static_cast<unsigned>(std::stoul(seedText)) : 7u;
  std::mt19937 rng(seed);
  std::cout << "[faults] seed " << seed << " (PLEXUS_FAULT_SEED)\n";

  test::SmtpSink smtp;
  System system(smtp);
  const std::string run = "f" + std::to_string(::getpid());

  // Products: ample ones never run out; two scarce ones are fought over, so some orders cancel.
  std::map<std::string, int> initial, price;
  for (int i = 0; i < 6; ++i) initial[run + "-a" + std::to_string(i)] = 100000;
  for (int i = 0; i < 2; ++i) initial[run + "-s" + std::to_string(i)] = 12;
  for (const auto& [p, n] : initial) {
    price[p] = 100 + 25 * static_cast<int>(rng() % 40);
    const int stock = n;
    const std::string product = p;
    ASSERT_TRUE(test::eventually([&] {
      try {
        auto r = test::http(system.port("inventory-worker"), "PUT", "/api/inventory/" + product,
                            json{{"availableStock", stock}}.dump());
        return r.status == 200 || r.status == 201;
      } catch (const std::exception&) {
        return false;
      }
    })) << "stocking "
        << p;
  }
  std::vector<std::string> ample, scarce;
  for (const auto& [p, n] : initial) (n > 1000 ? ample : scarce).push_back(p);

  // The orders, decided up front from the seed.
  const int maxOrders = 400, minOrders = 150;
  std::vector<Order> orders(maxOrders);
  for (int i = 0; i < maxOrders; ++i) {
    Order& o = orders[i];
    o.index = i;
    o.key = run + "-" + std::to_string(i);
    o.customer = run + "-c" + std::to_string(i);
    o.payment = rng() % 10 == 0 ? "pm_card_declined" : "card";
    const int lines = 1 + static_cast<int>(rng() % 2);
    std::set<std::string> used;
    for (int l = 0; l < lines; ++l) {
      const bool s = rng() % 5 == 0;
      const std::string p = s ? scarce[rng() % scarce.size()] : ample[rng() % ample.size()];
      if (!used.insert(p).second) continue;
      o.scarce = o.scarce || s;
      o.lines.push_back(Line{p, 1 + static_cast<int>(rng() % 3), price[p]});
    }
  }

  // The load: a closed-loop client, about two orders a second until the schedule is done, each
  // retried (same Idempotency-Key) until the order service accepts it.
  std::atomic<bool> stopLoad{false};
  std::atomic<int> placed{0}, retried{0}, notAccepted{0};
  std::string loadError;
  std::thread load([&] {
    for (int i = 0; i < maxOrders; ++i) {
      if (stopLoad && i >= minOrders) break;
      Order& o = orders[i];
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
      while (o.id.empty() && std::chrono::steady_clock::now() < deadline) {
        ++o.attempts;
        try {
          auto r = test::http(system.port("order-service"), "POST", "/api/orders", o.body().dump(),
                              {{"Idempotency-Key", o.key}});
          if (r.status == 200 || r.status == 201) {
            o.id = json::parse(r.body).value("orderId", "");
            o.acceptedAtMs = nowMs();
            break;
          }
          if (r.status == 400) {
            loadError = "order " + o.key + " refused with 400: " + r.body;
            return;
          }
        } catch (const std::exception&) {
          // The order service is down or restarting: the same request again.
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // client retry pace
      }
      if (o.attempts > 1) ++retried;
      if (o.id.empty()) ++notAccepted;
      ++placed;
      std::this_thread::sleep_for(std::chrono::milliseconds(400));  // load pace, not a sync
    }
  });

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
  auto allReady = [&](int timeoutMs) {
    for (const auto& s : kServices) system.waitReady(s, timeoutMs);
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
  stopLoad = true;
  load.join();
  ASSERT_TRUE(scheduleError.empty()) << "the fault schedule failed: " << scheduleError << "\n"
                                     << system.output().substr(0, 20000);
  ASSERT_TRUE(loadError.empty()) << loadError;

  std::vector<const Order*> accepted;
  for (const auto& o : orders) {
    if (!o.id.empty()) accepted.push_back(&o);
  }
  ASSERT_GE(accepted.size(), static_cast<size_t>(minOrders));

  // Quiescence: every accepted order terminal, and no due outbox row or pending delivery in any
  // deployment, three polls in a row.
  Ledger ledger(std::getenv("PLEXUS_PG_URL"));
  std::map<std::string, std::pair<std::string, int64_t>> view;  // order -> (status, updated_at)
  int quiet = 0;
  std::string pendingWhy;
  const bool settled = test::eventually(
      [&] {
        try {
          view.clear();
          for (const Row& r :
               ledger.query("SELECT order_id, status, updated_at FROM order_service.orders_view")) {
            view[r[0].asText()] = {r[1].asText(), r[2].asInt()};
          }
          int open = 0;
          for (const Order* o : accepted) {
            auto it = view.find(o->id);
            open += it == view.end() || !terminal(it->second.first);
          }
          int64_t pending = 0;
          for (const auto& s : kServices) {
            const std::string sc = schemaOf(s);
            pending += ledger
                           .query("SELECT (SELECT COUNT(*) FROM " + sc +
                                      ".plexus_outbox WHERE deliver_at <= $1) "
                                      "+ (SELECT COUNT(*) FROM " +
                                      sc + ".plexus_deliveries)",
                                  {static_cast<long long>(nowMs())})[0][0]
                           .asInt();
          }
          pendingWhy = std::to_string(open) + " order(s) not terminal, " + std::to_string(pending) +
                       " outbox row(s)/deliveries pending";
          quiet = open == 0 && pending == 0 ? quiet + 1 : 0;
        } catch (const std::exception& e) {
          pendingWhy = e.what();
          quiet = 0;
        }
        return quiet >= 3;
      },
      240000, 1000);

  // ---- the ledger ----
  std::map<std::string, std::map<std::string, std::pair<int64_t, std::string>>> reservations;
  for (const Row& r : ledger.query("SELECT order_id, product_id, quantity, status FROM "
                                   "inventory_worker.inventory_reservations")) {
    reservations[r[0].asText()][r[1].asText()] = {r[2].asInt(), r[3].asText()};
  }
  std::map<std::string, std::pair<std::string, int64_t>> payments;
  for (const Row& r : ledger.query(
           "SELECT order_id, status, amount_cents FROM payment_worker.payments_payments")) {
    payments[r[0].asText()] = {r[1].asText(), r[2].asInt()};
  }
  std::set<std::string> shipments;
  for (const Row& r : ledger.query("SELECT order_id FROM shipping_worker.shipping_shipments")) {
    shipments.insert(r[0].asText());
  }
  // The notification plugin's record of each send: 'Pending' until a DeliverNotification
  // (queued through the outbox with the row) sent it and recorded the outcome. An email missing at
  // the sink with its row still Pending means that delivery never completed.
  std::map<std::string, std::string> sendRows;  // order|type -> status
  for (const Row& r : ledger.query("SELECT order_id, type, status FROM "
                                   "notification_worker.notifications_sends")) {
    sendRows[r[0].asText() + "|" + r[1].asText()] = r[2].asText();
  }
  int unsentPending = 0;
  auto missingEmail = [&](const std::string& order, const std::string& type) {
    auto it = sendRows.find(order + "|" + type);
    const std::string row = it == sendRows.end() ? "none" : it->second;
    if (row == "Pending") ++unsentPending;
    return "no " + type + " email (send row: " + row + ")";
  };
  std::map<std::string, int64_t> customerOrders;
  for (const Row& r :
       ledger.query("SELECT customer_id, total_orders FROM customer_service.customers_activity")) {
    customerOrders[r[0].asText()] = r[1].asInt();
  }
  std::map<std::string, std::pair<int64_t, int64_t>> analytics;  // created, item_count
  for (const Row& r : ledger.query(
           "SELECT order_id, created, item_count FROM analytics_worker.analytics_orders")) {
    analytics[r[0].asText()] = {r[1].asInt(), r[2].asInt()};
  }
  std::map<std::string, int64_t> ordersPerKey;
  for (const Row& r :
       ledger.query("SELECT idempotency_key, COUNT(*) FROM order_service.orders_orders WHERE "
                    "idempotency_key LIKE $1 GROUP BY idempotency_key",
                    {run + "-%"})) {
    ordersPerKey[r[0].asText()] = r[1].asInt();
  }
  // A business event appended twice for one order is a duplicate, wherever it was emitted.
  std::map<std::string, std::vector<std::string>> eventDuplicates;
  for (const auto& s : kServices) {
    for (const Row& r :
         ledger.query("SELECT stream_id, type, COUNT(*) FROM " + schemaOf(s) +
                      ".plexus_events WHERE type IN ('OrderCreated', 'InventoryReserved', "
                      "'PaymentProcessed', 'ShipmentCreated', 'OrderCancelled', 'PaymentRefunded') "
                      "GROUP BY stream_id, type HAVING COUNT(*) > 1")) {
      eventDuplicates[r[0].asText()].push_back(r[1].asText() + " x" + std::to_string(r[2].asInt()));
    }
  }

  int lost = 0, duplicated = 0, recovered = 0, shipped = 0, cancelled = 0;
  int emailsRedelivered = 0;
  std::vector<std::string> problems;
  std::map<std::string, int64_t> committedPerProduct, shippedPerProduct;
  for (const Order* o : accepted) {
    std::vector<std::string> lostWhy, dupWhy;
    const auto v =
        view.count(o->id) ? view[o->id] : std::make_pair(std::string("missing"), int64_t{0});
    const std::string& status = v.first;
    const bool isShipped = status == "Shipped" || status == "Delivered";
    const bool isCancelled = status == "Cancelled";
    if (!terminal(status)) lostWhy.push_back("status " + status);
    if (ordersPerKey[o->key] > 1)
      dupWhy.push_back(std::to_string(ordersPerKey[o->key]) + " orders for one key");
    for (const auto& e : eventDuplicates[o->id]) dupWhy.push_back("event " + e);
    const auto& res = reservations[o->id];
    for (const auto& [product, r] : res) {
      if (r.second == "Committed") committedPerProduct[product] += r.first;
      if (r.second == "Reserved") lostWhy.push_back("reservation of " + product + " still held");
    }
    // Sends are at-least-once with a stable Message-ID: the business effect is the number of
    // distinct Message-IDs; the same Message-ID again is a redelivery a mail system dedupes.
    const auto confirmationMail = smtp.tally("Order confirmation " + o->id);
    const auto receiptMail = smtp.tally("Payment receipt for order " + o->id);
    const auto cancellationMail = smtp.tally("Order " + o->id + " cancelled");
    emailsRedelivered +=
        confirmationMail.redelivered() + receiptMail.redelivered() + cancellationMail.redelivered();
    const int confirmations = confirmationMail.distinct;
    const int receipts = receiptMail.distinct;
    const int cancellations = cancellationMail.distinct;
    if (confirmations > 1 || receipts > 1 || cancellations > 1) {
      dupWhy.push_back("emails: " + std::to_string(confirmations) + " confirmation(s), " +
                       std::to_string(receipts) + " receipt(s), " + std::to_string(cancellations) +
                       " cancellation(s)");
    }
    if (confirmations == 0) lostWhy.push_back(missingEmail(o->id, "OrderConfirmation"));
    const int64_t counted = customerOrders.count(o->customer) ? customerOrders[o->customer] : 0;
    if (counted > 1) dupWhy.push_back("customer counted " + std::to_string(counted) + " orders");
    int64_t items = 0;
    for (const auto& l : o->lines) items += l.quantity;
    const auto a =
        analytics.count(o->id) ? analytics[o->id] : std::make_pair(int64_t{0}, int64_t{0});
    if (a.first != 1) lostWhy.push_back("analytics did not count the order");
    if (a.second > items)
      dupWhy.push_back("analytics counted " + std::to_string(a.second) + " items of " +
                       std::to_string(items));
    if (a.first == 1 && a.second < items)
      lostWhy.push_back("analytics counted " + std::to_string(a.second) + " items of " +
                        std::to_string(items));
    if (isShipped) {
      ++shipped;
      if (o->payment != "card") lostWhy.push_back("a declined card shipped");
      for (const auto& l : o->lines) {
        shippedPerProduct[l.product] += l.quantity;
        auto it = res.find(l.product);
        if (it == res.end() || it->second.second != "Committed" || it->second.first != l.quantity)
          lostWhy.push_back("reservation of " + l.product + " not committed as ordered");
      }
      auto p = payments.find(o->id);
      if (p == payments.end() || p->second.first != "Captured" ||
          p->second.second != o->totalCents())
        lostWhy.push_back("no capture of " + std::to_string(o->totalCents()) + " cents");
      if (!shipments.count(o->id)) lostWhy.push_back("no shipment");
      if (receipts == 0) lostWhy.push_back(missingEmail(o->id, "PaymentReceipt"));
      if (counted != 1) lostWhy.push_back("customer read model did not count the order");
    } else if (isCancelled) {
      ++cancelled;
      for (const auto& [product, r] : res) {
        if (r.second == "Committed") lostWhy.push_back("cancelled order consumed " + product);
      }
      auto p = payments.find(o->id);
      if (p != payments.end() && p->second.first == "Captured")
        lostWhy.push_back("cancelled but captured");
      if (shipments.count(o->id)) lostWhy.push_back("cancelled but a shipment exists");
      if (cancellations == 0) lostWhy.push_back(missingEmail(o->id, "OrderCancellation"));
      // A good card on products that never run out has no business reason to cancel.
      if (o->payment == "card" && !o->scarce) lostWhy.push_back("cancelled without a reason");
    }
    if (!lostWhy.empty()) ++lost;
    if (!dupWhy.empty()) ++duplicated;
    std::vector<std::string> why = lostWhy;
    why.insert(why.end(), dupWhy.begin(), dupWhy.end());
    if (why.empty()) {
      for (const Fault& f : schedule) {
        if (f.atMs >= o->acceptedAtMs && f.atMs <= v.second) {
          ++recovered;  // in flight when a fault hit, and still right
          break;
        }
      }
    } else if (problems.size() < 20) {
      std::string line = o->id + " (" + o->key + ", " + status + "):";
      for (const auto& w : why) line += " " + w + ";";
      problems.push_back(line);
    }
  }

  // Stock arithmetic: what is left is what was there minus what shipped, and nothing is held.
  std::vector<std::string> stockProblems;
  for (const Row& r : ledger.query("SELECT product_id, available_stock, reserved_stock FROM "
                                   "inventory_worker.inventory_products WHERE product_id LIKE $1",
                                   {run + "-%"})) {
    const std::string p = r[0].asText();
    const int64_t available = r[1].asInt(), reserved = r[2].asInt();
    const int64_t expect = initial[p] - shippedPerProduct[p];
    if (available != expect || reserved != 0 || committedPerProduct[p] != shippedPerProduct[p]) {
      stockProblems.push_back(p + ": available " + std::to_string(available) + " (expected " +
                              std::to_string(expect) + "), reserved " + std::to_string(reserved) +
                              ", committed " + std::to_string(committedPerProduct[p]) +
                              ", shipped " + std::to_string(shippedPerProduct[p]));
    }
  }

  int fired = 0, plain = 0, servers = 0;
  for (const Fault& f : schedule) {
    if (f.kind == "point") (f.fired ? fired : plain) += 1;
    if (f.kind == "kill") ++plain;
    if (f.kind == "rabbitmq" || f.kind == "postgres") ++servers;
  }
  std::cout << "[faults] ---- result (seed " << seed << ") ----\n"
            << "[faults] orders accepted   " << accepted.size() << " (of " << placed.load()
            << " placed; " << retried.load() << " needed client retries; " << notAccepted.load()
            << " never accepted)\n"
            << "[faults] terminal          " << shipped << " shipped, " << cancelled
            << " cancelled\n"
            << "[faults] faults injected   " << schedule.size() << " (" << fired
            << " kill -9 at a named point, " << plain << " plain kill -9, " << servers
            << " server stop/start) + the kill -9 before each armed restart\n"
            << "[faults] lost              " << lost << "\n"
            << "[faults] duplicated        " << duplicated << "\n"
            << "[faults] recovered         " << recovered
            << " (in flight when a fault hit, correct in the end)\n"
            << "[faults] stock arithmetic  "
            << (stockProblems.empty() ? "exact"
                                      : std::to_string(stockProblems.size()) + " product(s) off")
            << "\n"
            << "[faults] emails received   " << smtp.messages().size() << " (" << emailsRedelivered
            << " redelivered (deduplicable): the same Message-ID again after a crash between "
               "send and commit; "
            << unsentPending << " missing with their send row still Pending)" << std::endl;
  for (const auto& p : problems) std::cout << "[faults] problem: " << p << "\n";
  for (const auto& p : stockProblems) std::cout << "[faults] stock: " << p << "\n";

  EXPECT_TRUE(settled) << "the system did not settle: " << pendingWhy;
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_TRUE(stockProblems.empty());
  EXPECT_GE(fired, 4) << "fewer named fault points fired than scheduled kinds";
  // Each counted firing is a host that logged "fault injected" and died, not some other crash.
  const std::string out = system.output();
  int injected = 0;
  for (size_t at = out.find("\"msg\":\"fault injected\""); at != std::string::npos;
       at = out.find("\"msg\":\"fault injected\"", at + 1)) {
    ++injected;
  }
  EXPECT_EQ(injected, fired);
  EXPECT_EQ(notAccepted.load(), 0);
  if (HasFailure()) {
    std::cout << "[faults] last host output:\n"
              << out.substr(out.size() > 20000 ? out.size() - 20000 : 0);
  }
}

}  // namespace
}  // namespace plexus::faults
