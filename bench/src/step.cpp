// Durable step driver: publishes N BenchStep commands (host envelopes, persistent, confirms) to
// plexus.commands and counts the BenchStepped events the host publishes back through its outbox.
// Each one is a full durable step in the host: consume, inbox, state change, event store, outbox,
// commit, ack, relay with confirms. The figure is N / (last event - first publish).
#include "common.hpp"
#include "plugin/uuid.hpp"
#include "store/envelope.hpp"
#include "transport/amqp.hpp"

#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

int main(int argc, char** argv) {
  return bench::guarded([&] {
    const bench::Args args(argc, argv);
    const std::string url = args.str("url");
    const long n = args.num("messages", 5000);
    const long streams = std::max(1L, args.num("streams", 1024));
    const long batch = std::max(1L, args.num("batch", 100));
    const std::string run = plexus::newUuidV7().substr(0, 8);  // stream ids unique per run
    const std::string queue = "bench.stepped." + std::to_string(::getpid());

    plexus::transport::Amqp sub(url);
    sub.open(5000);
    sub.declareQueue(queue, {{"x-expires", int64_t{600000}}});
    sub.bindQueue(queue, "plexus.events", "BenchStepped");
    sub.qos(1000);
    sub.consume(queue);
    plexus::transport::Amqp pub(url);
    pub.open(5000);
    pub.confirmSelect();

    std::atomic<bool> failed{false};
    double last = 0;
    std::thread consumer([&] {
      try {
        std::set<std::string> seen;  // at-least-once: a duplicate must not count twice
        while (static_cast<long>(seen.size()) < n) {
          auto m = sub.next(60000);
          if (!m) throw std::runtime_error("no BenchStepped within 60 s");
          seen.insert(m->messageId);
          sub.ack(m->deliveryTag);
        }
        last = bench::nowSeconds();
      } catch (const std::exception& e) {
        std::cerr << "error: consumer: " << e.what() << "\n";
        failed = true;
      }
    });
    const double start = bench::nowSeconds();
    for (long i = 0; i < n && !failed; ++i) {
      plexus::store::Envelope e;
      e.id = plexus::newUuidV7();
      e.kind = "command";
      e.type = "BenchStep";
      e.stream = run + "-" + std::to_string(i % streams);
      e.correlation = e.id;
      e.timestampMs = 0;
      e.sourceService = "bench";
      e.payload = "{}";
      pub.publish("plexus.commands", e.type, plexus::store::encode(e), e.id, e.type, e.stream);
      if ((i + 1) % batch == 0 || i + 1 == n) pub.waitForConfirms(10000);
    }
    consumer.join();
    if (failed) throw std::runtime_error("the host did not publish every BenchStepped");
    bench::print({{"messages", n},
                  {"seconds", last - start},
                  {"msgs_per_s", static_cast<double>(n) / (last - start)},
                  {"streams", streams}});
  });
}
