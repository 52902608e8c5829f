// Durable step driver: publishes BenchStep commands (host envelopes, persistent, confirms) to
// plexus.commands and counts the BenchStepped events the host publishes back through its outbox.
// Each one is a full durable step in the host: consume, inbox, state change, event store, outbox,
// commit, ack, relay with confirms. At most --window commands are outstanding (so the host's
// throughput, not the backlog, is measured); events counted during --seconds after --warmup give
// msgs_per_s. `total` is every distinct event seen (for commits per step).
#include "base/uuid.hpp"
#include "common.hpp"
#include "transport/amqp.hpp"
#include "transport/cloudevents.hpp"

#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

int main(int argc, char** argv) {
  return bench::guarded([&] {
    const bench::Args args(argc, argv);
    const std::string url = args.str("url");
    const long streams = std::max(1L, args.num("streams", 1024));
    const long window = std::max(1L, args.num("window", 512));
    const long batch = std::max(1L, args.num("batch", 100));
    const double seconds = static_cast<double>(std::max(1L, args.num("seconds", 10)));
    const double warmup = static_cast<double>(args.num("warmup", 2));
    const std::string run = plexus::newUuidV7().substr(0, 8);  // stream ids unique per run
    const std::string queue = "bench.stepped." + std::to_string(::getpid());

    plexus::transport::Amqp sub(url);
    sub.open(5000);
    // Bound to every event of its type: deleted when the run ends, else the next rounds' events
    // would pile up in it (and cost the broker); x-expires covers an interrupted run.
    sub.declareQueue(queue, {{"x-expires", int64_t{30000}}});
    sub.bindQueue(queue, "plexus.events", "BenchStepped");
    sub.qos(1000);
    sub.consume(queue);
    plexus::transport::Amqp pub(url);
    pub.open(5000);
    pub.confirmSelect();

    const double start = bench::nowSeconds();
    const double from = start + warmup, end = from + seconds;
    std::atomic<long> seen{0}, inWindow{0};
    std::atomic<bool> stop{false}, failed{false};
    std::thread consumer([&] {
      try {
        std::set<std::string> ids;  // at-least-once: a duplicate must not count twice
        double last = bench::nowSeconds();
        while (!stop) {
          auto m = sub.next(200);
          const double now = bench::nowSeconds();
          if (!m) {
            if (now - last > 60) throw std::runtime_error("no BenchStepped for 60 s");
            continue;
          }
          last = now;
          sub.ack(m->deliveryTag);
          if (!ids.insert(m->properties.messageId).second) continue;
          ++seen;
          if (now >= from && now <= end) ++inWindow;
        }
      } catch (const std::exception& e) {
        std::cerr << "error: consumer: " << e.what() << "\n";
        failed = true;
      }
    });
    long published = 0;
    while (!failed && bench::nowSeconds() < end) {
      if (published - seen >= window) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // window full: poll
        continue;
      }
      for (long k = 0; k < batch; ++k, ++published) {
        plexus::Message e;
        e.id = plexus::newUuidV7();
        e.kind = "command";
        e.type = "BenchStep";
        e.stream = run + "-" + std::to_string(published % streams);
        e.correlation = e.id;
        e.source = "bench";
        e.payload = "{}";
        pub.publish("plexus.commands", e.type, plexus::transport::toAmqp(e), e.payload);
      }
      pub.waitForConfirms(30000);
    }
    // Let the outstanding ones finish (bounded), so the next round starts from an idle host.
    const double drainUntil = bench::nowSeconds() + 120;
    while (!failed && seen < published && bench::nowSeconds() < drainUntil) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a counter
    }
    stop = true;
    consumer.join();
    sub.deleteQueue(queue);
    if (failed) throw std::runtime_error("the host stopped publishing BenchStepped");
    if (seen < published) throw std::runtime_error("the host did not publish every BenchStepped");
    bench::print({{"seconds", seconds},
                  {"messages", inWindow.load()},
                  {"msgs_per_s", static_cast<double>(inWindow.load()) / seconds},
                  {"total", seen.load()},
                  {"streams", streams},
                  {"window", window}});
  });
}
