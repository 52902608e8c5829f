#include "order_ledger.hpp"

#include "support.hpp"
#include "wait.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <set>

namespace plexus::faults {

using nlohmann::json;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t Order::totalCents() const {
  int64_t t = 0;
  for (const auto& l : lines) t += int64_t{l.quantity} * l.priceCents;
  return t;
}

json Order::body() const {
  json items = json::array();
  for (const auto& l : lines) {
    items.push_back(
        {{"productId", l.product}, {"quantity", l.quantity}, {"unitPrice", l.priceCents / 100.0}});
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

namespace {

bool terminal(const std::string& status) {
  return status == "Shipped" || status == "Delivered" || status == "Cancelled";
}

void stock(System& system, const std::string& product, int quantity) {
  const bool stocked = test::eventually([&] {
    try {
      auto r = test::http(system.port("inventory-worker"), "PUT", "/api/inventory/" + product,
                          json{{"availableStock", quantity}}.dump());
      return r.status == 200 || r.status == 201;
    } catch (const std::exception&) {
      return false;
    }
  });
  if (!stocked) throw std::runtime_error("stocking " + product + " failed");
}

}  // namespace

Catalog stockAndPlan(System& system, std::mt19937& rng, const std::string& run, int count) {
  Catalog c;
  std::map<std::string, int> price;
  for (int i = 0; i < 6; ++i) c.initial[run + "-a" + std::to_string(i)] = 100000;
  for (int i = 0; i < 2; ++i) c.initial[run + "-s" + std::to_string(i)] = 12;
  for (const auto& [p, n] : c.initial) {
    price[p] = 100 + 25 * static_cast<int>(rng() % 40);
    stock(system, p, n);
  }
  std::vector<std::string> ample, scarce;
  for (const auto& [p, n] : c.initial) (n > 1000 ? ample : scarce).push_back(p);
  c.orders.resize(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    Order& o = c.orders[static_cast<size_t>(i)];
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
  return c;
}

OrderLoad::OrderLoad(System& system, std::vector<Order>& orders, int minOrders)
    : system_(system), orders_(orders), minOrders_(minOrders) {
  thread_ = std::thread([this] {
    for (size_t i = 0; i < orders_.size(); ++i) {
      if (abort_ || (stop_ && static_cast<int>(i) >= minOrders_)) break;
      Order& o = orders_[i];
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
      while (o.id.empty() && !abort_ && std::chrono::steady_clock::now() < deadline) {
        ++o.attempts;
        try {
          auto r = test::http(system_.port("order-service"), "POST", "/api/orders", o.body().dump(),
                              {{"Idempotency-Key", o.key}});
          if (r.status == 200 || r.status == 201) {
            o.id = json::parse(r.body).value("orderId", "");
            o.acceptedAtMs = nowMs();
            break;
          }
          if (r.status == 400) {
            error_ = "order " + o.key + " refused with 400: " + r.body;
            return;
          }
        } catch (const std::exception&) {
          // The order service is down or restarting: the same request again.
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // client retry pace
      }
      if (o.attempts > 1) ++retried_;
      if (o.id.empty()) ++notAccepted_;
      ++placed_;
      std::this_thread::sleep_for(std::chrono::milliseconds(400));  // load pace, not a sync
    }
  });
}

OrderLoad::~OrderLoad() { stop(); }

void OrderLoad::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void OrderLoad::abort() {
  abort_ = true;
  stop();
}

size_t acceptedCount(const std::vector<Order>& orders) {
  size_t n = 0;
  for (const auto& o : orders) n += !o.id.empty();
  return n;
}

Ledger::Ledger(const std::string& url) {
  config::Store sc;
  sc.kind = "postgresql";
  sc.url = url;
  db_ = store::Store::open(sc, 1);
}

Rows Ledger::query(const std::string& sql, const std::vector<Value>& params) {
  auto tx = db_->begin();
  Rows r = tx->query(sql, params);
  tx->commit();
  return r;
}

namespace {

using View = std::map<std::string, std::pair<std::string, int64_t>>;  // order -> (status, at)

// Quiescence: every accepted order terminal, and no due outbox row or pending delivery in any
// deployment, three polls in a row.
bool settle(Ledger& ledger, const std::vector<const Order*>& accepted, View& view,
            std::string& why) {
  int quiet = 0;
  return test::eventually(
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
          why = std::to_string(open) + " order(s) not terminal, " + std::to_string(pending) +
                " outbox row(s)/deliveries pending";
          quiet = open == 0 && pending == 0 ? quiet + 1 : 0;
        } catch (const std::exception& e) {
          why = e.what();
          quiet = 0;
        }
        return quiet >= 3;
      },
      240000, 1000);
}

// Everything the ledger reads, per order or per product.
struct Effects {
  std::map<std::string, std::map<std::string, std::pair<int64_t, std::string>>> reservations;
  std::map<std::string, std::pair<std::string, int64_t>> payments;
  std::set<std::string> shipments;
  std::map<std::string, std::string> sendRows;  // order|type -> status
  std::map<std::string, int64_t> customerOrders;
  std::map<std::string, std::pair<int64_t, int64_t>> analytics;  // created, item_count
  std::map<std::string, int64_t> ordersPerKey;
  std::map<std::string, std::vector<std::string>> eventDuplicates;
};

Effects readEffects(Ledger& ledger, const std::string& run) {
  Effects e;
  for (const Row& r : ledger.query("SELECT order_id, product_id, quantity, status FROM "
                                   "inventory_worker.inventory_reservations")) {
    e.reservations[r[0].asText()][r[1].asText()] = {r[2].asInt(), r[3].asText()};
  }
  for (const Row& r : ledger.query(
           "SELECT order_id, status, amount_cents FROM payment_worker.payments_payments")) {
    e.payments[r[0].asText()] = {r[1].asText(), r[2].asInt()};
  }
  for (const Row& r : ledger.query("SELECT order_id FROM shipping_worker.shipping_shipments")) {
    e.shipments.insert(r[0].asText());
  }
  // The notification plugin's record of each send: 'Pending' until a DeliverNotification
  // (queued through the outbox with the row) sent it and recorded the outcome. An email missing
  // at the sink with its row still Pending means that delivery never completed.
  for (const Row& r : ledger.query("SELECT order_id, type, status FROM "
                                   "notification_worker.notifications_sends")) {
    e.sendRows[r[0].asText() + "|" + r[1].asText()] = r[2].asText();
  }
  for (const Row& r :
       ledger.query("SELECT customer_id, total_orders FROM customer_service.customers_activity")) {
    e.customerOrders[r[0].asText()] = r[1].asInt();
  }
  for (const Row& r : ledger.query(
           "SELECT order_id, created, item_count FROM analytics_worker.analytics_orders")) {
    e.analytics[r[0].asText()] = {r[1].asInt(), r[2].asInt()};
  }
  for (const Row& r :
       ledger.query("SELECT idempotency_key, COUNT(*) FROM order_service.orders_orders WHERE "
                    "idempotency_key LIKE $1 GROUP BY idempotency_key",
                    {run + "-%"})) {
    e.ordersPerKey[r[0].asText()] = r[1].asInt();
  }
  // A business event appended twice for one order is a duplicate, wherever it was emitted.
  for (const auto& s : kServices) {
    for (const Row& r :
         ledger.query("SELECT stream_id, type, COUNT(*) FROM " + schemaOf(s) +
                      ".plexus_events WHERE type IN ('OrderCreated', 'InventoryReserved', "
                      "'PaymentProcessed', 'ShipmentCreated', 'OrderCancelled', 'PaymentRefunded') "
                      "GROUP BY stream_id, type HAVING COUNT(*) > 1")) {
      e.eventDuplicates[r[0].asText()].push_back(r[1].asText() + " x" +
                                                 std::to_string(r[2].asInt()));
    }
  }
  return e;
}

}  // namespace

Verdict judge(test::SmtpSink& smtp, const std::vector<Order>& orders,
              const std::map<std::string, int>& initial, const std::string& run,
              const std::vector<int64_t>& faultTimesMs) {
  std::vector<const Order*> accepted;
  for (const auto& o : orders) {
    if (!o.id.empty()) accepted.push_back(&o);
  }
  Ledger ledger(std::getenv("PLEXUS_PG_URL"));
  Verdict v;
  View view;
  v.settled = settle(ledger, accepted, view, v.pendingWhy);
  Effects e = readEffects(ledger, run);

  auto missingEmail = [&](const std::string& order, const std::string& type) {
    auto it = e.sendRows.find(order + "|" + type);
    const std::string row = it == e.sendRows.end() ? "none" : it->second;
    if (row == "Pending") ++v.unsentPending;
    return "no " + type + " email (send row: " + row + ")";
  };
  std::map<std::string, int64_t> committedPerProduct, shippedPerProduct;
  for (const Order* o : accepted) {
    std::vector<std::string> lostWhy, dupWhy;
    const auto at =
        view.count(o->id) ? view[o->id] : std::make_pair(std::string("missing"), int64_t{0});
    const std::string& status = at.first;
    const bool isShipped = status == "Shipped" || status == "Delivered";
    const bool isCancelled = status == "Cancelled";
    if (!terminal(status)) lostWhy.push_back("status " + status);
    if (terminal(status)) v.completions.push_back(at.second);
    if (e.ordersPerKey[o->key] > 1)
      dupWhy.push_back(std::to_string(e.ordersPerKey[o->key]) + " orders for one key");
    for (const auto& d : e.eventDuplicates[o->id]) dupWhy.push_back("event " + d);
    const auto& res = e.reservations[o->id];
    for (const auto& [product, r] : res) {
      if (r.second == "Committed") committedPerProduct[product] += r.first;
      if (r.second == "Reserved") lostWhy.push_back("reservation of " + product + " still held");
    }
    // Sends are at-least-once with a stable Message-ID: the business effect is the number of
    // distinct Message-IDs; the same Message-ID again is a redelivery a mail system dedupes.
    const auto confirmationMail = smtp.tally("Order confirmation " + o->id);
    const auto receiptMail = smtp.tally("Payment receipt for order " + o->id);
    const auto cancellationMail = smtp.tally("Order " + o->id + " cancelled");
    v.emailsRedelivered +=
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
    const int64_t counted = e.customerOrders.count(o->customer) ? e.customerOrders[o->customer] : 0;
    if (counted > 1) dupWhy.push_back("customer counted " + std::to_string(counted) + " orders");
    int64_t items = 0;
    for (const auto& l : o->lines) items += l.quantity;
    const auto a =
        e.analytics.count(o->id) ? e.analytics[o->id] : std::make_pair(int64_t{0}, int64_t{0});
    if (a.first != 1) lostWhy.push_back("analytics did not count the order");
    if (a.second > items)
      dupWhy.push_back("analytics counted " + std::to_string(a.second) + " items of " +
                       std::to_string(items));
    if (a.first == 1 && a.second < items)
      lostWhy.push_back("analytics counted " + std::to_string(a.second) + " items of " +
                        std::to_string(items));
    if (isShipped) {
      ++v.shipped;
      if (o->payment != "card") lostWhy.push_back("a declined card shipped");
      for (const auto& l : o->lines) {
        shippedPerProduct[l.product] += l.quantity;
        auto it = res.find(l.product);
        if (it == res.end() || it->second.second != "Committed" || it->second.first != l.quantity)
          lostWhy.push_back("reservation of " + l.product + " not committed as ordered");
      }
      auto p = e.payments.find(o->id);
      if (p == e.payments.end() || p->second.first != "Captured" ||
          p->second.second != o->totalCents())
        lostWhy.push_back("no capture of " + std::to_string(o->totalCents()) + " cents");
      if (!e.shipments.count(o->id)) lostWhy.push_back("no shipment");
      if (receipts == 0) lostWhy.push_back(missingEmail(o->id, "PaymentReceipt"));
      if (counted != 1) lostWhy.push_back("customer read model did not count the order");
    } else if (isCancelled) {
      ++v.cancelled;
      for (const auto& [product, r] : res) {
        if (r.second == "Committed") lostWhy.push_back("cancelled order consumed " + product);
      }
      auto p = e.payments.find(o->id);
      if (p != e.payments.end() && p->second.first == "Captured")
        lostWhy.push_back("cancelled but captured");
      if (e.shipments.count(o->id)) lostWhy.push_back("cancelled but a shipment exists");
      if (cancellations == 0) lostWhy.push_back(missingEmail(o->id, "OrderCancellation"));
      // A good card on products that never run out has no business reason to cancel.
      if (o->payment == "card" && !o->scarce) lostWhy.push_back("cancelled without a reason");
    }
    if (!lostWhy.empty()) ++v.lost;
    if (!dupWhy.empty()) ++v.duplicated;
    std::vector<std::string> why = lostWhy;
    why.insert(why.end(), dupWhy.begin(), dupWhy.end());
    if (why.empty()) {
      for (const int64_t f : faultTimesMs) {
        if (f >= o->acceptedAtMs && f <= at.second) {
          ++v.recovered;  // in flight when a fault hit, and still right
          break;
        }
      }
    } else if (v.problems.size() < 20) {
      std::string line = o->id + " (" + o->key + ", " + status + "):";
      for (const auto& w : why) line += " " + w + ";";
      v.problems.push_back(line);
    }
  }
  std::sort(v.completions.begin(), v.completions.end());

  // Stock arithmetic: what is left is what was there minus what shipped, and nothing is held.
  for (const Row& r : ledger.query("SELECT product_id, available_stock, reserved_stock FROM "
                                   "inventory_worker.inventory_products WHERE product_id LIKE $1",
                                   {run + "-%"})) {
    const std::string p = r[0].asText();
    const int64_t available = r[1].asInt(), reserved = r[2].asInt();
    const int64_t expect = initial.at(p) - shippedPerProduct[p];
    if (available != expect || reserved != 0 || committedPerProduct[p] != shippedPerProduct[p]) {
      v.stockProblems.push_back(p + ": available " + std::to_string(available) + " (expected " +
                                std::to_string(expect) + "), reserved " + std::to_string(reserved) +
                                ", committed " + std::to_string(committedPerProduct[p]) +
                                ", shipped " + std::to_string(shippedPerProduct[p]));
    }
  }
  v.emailsReceived = static_cast<int>(smtp.messages().size());
  return v;
}

void print(const std::string& tag, const Verdict& v, size_t accepted, const OrderLoad& load) {
  const std::string p = "[" + tag + "] ";
  std::cout << p << "orders accepted   " << accepted << " (of " << load.placed() << " placed; "
            << load.retried() << " needed client retries; " << load.notAccepted()
            << " never accepted)\n"
            << p << "terminal          " << v.shipped << " shipped, " << v.cancelled
            << " cancelled\n"
            << p << "lost              " << v.lost << "\n"
            << p << "duplicated        " << v.duplicated << "\n"
            << p << "recovered         " << v.recovered
            << " (in flight when a fault hit, correct in the end)\n"
            << p << "stock arithmetic  "
            << (v.stockProblems.empty()
                    ? "exact"
                    : std::to_string(v.stockProblems.size()) + " product(s) off")
            << "\n"
            << p << "emails received   " << v.emailsReceived << " (" << v.emailsRedelivered
            << " redelivered (deduplicable): the same Message-ID again after a crash between "
               "send and commit; "
            << v.unsentPending << " missing with their send row still Pending)" << std::endl;
  for (const auto& line : v.problems) std::cout << p << "problem: " << line << "\n";
  for (const auto& line : v.stockProblems) std::cout << p << "stock: " << line << "\n";
}

int64_t longestPause(const std::vector<int64_t>& completions, int64_t fromMs, int64_t toMs) {
  int64_t longest = 0;
  for (size_t i = 1; i < completions.size(); ++i) {
    if (completions[i] > fromMs && completions[i - 1] < toMs)
      longest = std::max(longest, completions[i] - completions[i - 1]);
  }
  return longest;
}

}  // namespace plexus::faults
