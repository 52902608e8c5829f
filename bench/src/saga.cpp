// Closed-loop driver for the full order saga on the distributed system: --clients threads each
// place an order (POST /api/orders on order-service), wait until the order's ShipmentCreated event
// is on the broker (the saga's last step; seen through a queue bound to plexus.events), then place
// the next. Only orders completed in the --seconds window after --warmup count. Prints orders/s,
// p50/p99 of order completion (POST sent -> ShipmentCreated consumed), and counts of cancelled and
// timed-out orders (both must be 0 for a valid run).
#include "common.hpp"
#include "transport/amqp.hpp"
#include "transport/cloudevents.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace {

using nlohmann::json;

struct Http {
  explicit Http(int port) : session("127.0.0.1", static_cast<Poco::UInt16>(port)) {
    session.setKeepAlive(true);
    session.setTimeout(Poco::Timespan(30, 0));
  }
  std::pair<int, std::string> call(const std::string& method, const std::string& uri,
                                   const std::string& body) {
    Poco::Net::HTTPRequest req(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    req.setKeepAlive(true);
    if (!body.empty()) {
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse res;
    std::string out;
    Poco::StreamCopier::copyToString(session.receiveResponse(res), out);
    return {static_cast<int>(res.getStatus()), out};
  }
  Poco::Net::HTTPClientSession session;
};

struct Outcome {
  double at = 0;
  bool shipped = false;
};

}  // namespace

int main(int argc, char** argv) {
  return bench::guarded([&] {
    const bench::Args args(argc, argv);
    const int ordersPort = static_cast<int>(args.num("orders-port", 0));
    const int inventoryPort = static_cast<int>(args.num("inventory-port", 0));
    if (ordersPort == 0 || inventoryPort == 0)
      throw std::invalid_argument("--orders-port and --inventory-port are required");
    const std::string url = args.str("amqp-url");
    const long clients = std::max(1L, args.num("clients", 8));
    const double seconds = static_cast<double>(args.num("seconds", 30));
    const double warmup = static_cast<double>(args.num("warmup", 5));
    const long products = std::max(1L, args.num("products", 16));
    const std::string run = std::to_string(::getpid());

    Http inv(inventoryPort);
    for (long p = 0; p < products; ++p) {
      auto r = inv.call("PUT", "/api/inventory/bench-" + run + "-" + std::to_string(p),
                        json{{"availableStock", 1000000000}}.dump());
      if (r.first != 200 && r.first != 201)
        throw std::runtime_error("restock answered " + std::to_string(r.first) + ": " + r.second);
    }

    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, Outcome> done;  // orderId -> outcome, filled by the consumer
    std::atomic<bool> stop{false};
    plexus::transport::Amqp sub(url);
    sub.open(5000);
    const std::string queue = "bench.saga." + run;
    // Bound to every event of its type: deleted when the run ends, else the next rounds' events
    // would pile up in it (and cost the broker); x-expires covers an interrupted run.
    sub.declareQueue(queue, {{"x-expires", int64_t{30000}}});
    sub.bindQueue(queue, "plexus.events", "ShipmentCreated");
    sub.bindQueue(queue, "plexus.events", "OrderCancelled");
    sub.qos(1000);
    sub.consume(queue);
    std::thread consumer([&] {
      while (!stop) {
        auto m = sub.next(200);
        if (!m) continue;
        std::string error;
        auto env = plexus::transport::fromAmqp(m->properties, m->body, m->exchange, error);
        sub.ack(m->deliveryTag);
        if (!env) continue;
        {
          std::lock_guard<std::mutex> lock(mu);
          auto& o = done[env->stream];
          if (o.at == 0) o = Outcome{bench::nowSeconds(), env->type == "ShipmentCreated"};
        }
        cv.notify_all();
      }
    });

    const double begin = bench::nowSeconds();
    const double measureFrom = begin + warmup, end = measureFrom + seconds;
    std::mutex statsMu;
    std::vector<double> latencies;
    long completed = 0, cancelled = 0, timedOut = 0, failed = 0;
    std::vector<std::thread> threads;
    for (long c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        Http orders(ordersPort);
        for (long i = 0; bench::nowSeconds() < end; ++i) {
          const std::string product = "bench-" + run + "-" + std::to_string((c + i) % products);
          const json body{
              {"customerId", "bench-" + run + "-c" + std::to_string(c)},
              {"items", {{{"productId", product}, {"quantity", 1}, {"unitPrice", 9.99}}}},
              {"paymentMethod", "card"},
              {"shippingAddress",
               {{"street", "1 Main St"},
                {"city", "Springfield"},
                {"state", "IL"},
                {"zipCode", "62701"},
                {"country", "US"}}}};
          const double t0 = bench::nowSeconds();
          std::pair<int, std::string> r;
          try {
            r = orders.call("POST", "/api/orders", body.dump());
          } catch (const std::exception&) {
            r.first = 0;
          }
          if (r.first != 201) {
            std::lock_guard<std::mutex> lock(statsMu);
            ++failed;
            continue;
          }
          const std::string id = json::parse(r.second).value("orderId", "");
          Outcome o;
          {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait_for(lock, std::chrono::seconds(60), [&] { return done.count(id) > 0; });
            if (done.count(id) > 0) o = done[id];
          }
          std::lock_guard<std::mutex> lock(statsMu);
          if (o.at == 0) {
            ++timedOut;
          } else if (!o.shipped) {
            ++cancelled;
          } else if (o.at >= measureFrom && o.at <= end) {
            // Completed inside the window: counts for throughput and latency (an order placed in
            // the warm-up but finished in the window is part of the steady state too).
            ++completed;
            latencies.push_back((o.at - t0) * 1000.0);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    stop = true;
    consumer.join();
    sub.deleteQueue(queue);
    bench::print({{"clients", clients},
                  {"seconds", seconds},
                  {"orders", completed},
                  {"orders_per_s", static_cast<double>(completed) / seconds},
                  {"p50_ms", bench::percentile(latencies, 50)},
                  {"p99_ms", bench::percentile(latencies, 99)},
                  {"cancelled", cancelled},
                  {"timed_out", timedOut},
                  {"failed_posts", failed},
                  {"run", run}});
  });
}
