// Subject: host dispatch to a no-op plugin, no database. The same flow as plexus-bench-amqp, but
// through the host's parts: envelopes encoded and decoded by the host's codec, published and
// consumed by the host's AMQP client, handed to the BenchNoop receptor of plexus_bench.so (loaded
// by the real loader, trust checks included) through plugin::Runtime::deliver.
//   --url U --messages N            broker mode: prints msgs_per_s
//   --inproc N                      no broker: encode -> decode -> deliver N times (for callgrind)
//   --wire                          the AMQP message the host publishes for one test message, as
//                                   JSON for plexus-bench-amqp --wire (the reference sends the
//                                   same)
#include "base/uuid.hpp"
#include "common.hpp"
#include "config/config.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "plugin/unit_of_work.hpp"
#include "transport/amqp.hpp"
#include "transport/cloudevents.hpp"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

namespace {

using plexus::plugin::Component;

Component& loadNoop(plexus::plugin::Runtime& runtime, const std::string& pluginDir) {
  const std::string path = "/tmp/plexus-bench-dispatch-" + std::to_string(::getpid()) + ".json";
  {
    std::ofstream f(path);
    f << nlohmann::json{{"service", "bench-dispatch"},
                        {"plugin_dir", pluginDir},
                        {"plugins", {{{"library", "plexus_bench.so"}}}}}
             .dump();
  }
  const auto cfg = plexus::config::load(path);
  ::unlink(path.c_str());
  runtime.start(cfg);
  for (const auto& c : runtime.components()) {
    for (const auto& t : c->types) {
      if (t == "BenchNoop") return *c;
    }
  }
  throw std::runtime_error("plexus_bench.so has no BenchNoop receptor");
}

plexus::Message message(long i) {
  plexus::Message e;
  e.id = plexus::newUuidV7();
  e.kind = "command";
  e.type = "BenchNoop";
  e.stream = "s-" + std::to_string(i % 64);
  e.correlation = e.id;
  e.timestampMs = 1700000000000 + i;
  e.source = "bench";
  e.sourceInstance = "bench-1";
  e.payload = R"({"orderId":"0190d5a3-7c1e-7000-8000-000000000000","amount":12.5})";
  return e;
}

void handle(plexus::plugin::Runtime& runtime, Component& noop,
            const plexus::transport::AmqpProperties& properties, std::string& body) {
  std::string error;
  auto env = plexus::transport::fromAmqp(properties, body, "plexus.commands", error);
  if (!env) throw std::runtime_error("unusable message: " + error);
  plexus::plugin::Part part;
  const auto d = runtime.deliver(noop, *env, nullptr, part);
  if (d.status != PLEXUS_OK) throw std::runtime_error("BenchNoop failed: " + d.reason);
}

}  // namespace

int main(int argc, char** argv) {
  return bench::guarded([&] {
    const bench::Args args(argc, argv);
    plexus::log::setLevel(plexus::log::Level::Error);  // stdout carries the result only
    plexus::Metrics metrics;
    plexus::plugin::Runtime runtime(metrics);
    Component& noop = loadNoop(runtime, args.str("plugin-dir"));

    if (args.has("envelope-size")) {  // payload + metadata (header names and values)
      const auto m = message(0);
      size_t size = m.payload.size();
      for (const auto& [k, v] : plexus::transport::toAmqp(m).headers) size += k.size() + v.size();
      bench::print({{"size", size}});
      return;
    }
    if (args.has("wire")) {
      const auto m = message(0);
      const auto p = plexus::transport::toAmqp(m);
      bench::print({{"content_type", p.contentType},
                    {"message_id", p.messageId},
                    {"type", p.type},
                    {"correlation_id", p.correlationId},
                    {"app_id", p.appId},
                    {"timestamp", p.timestamp},
                    {"headers", p.headers},
                    {"body", m.payload}});
      return;
    }
    if (args.has("inproc")) {
      const long n = args.num("inproc", 0);
      for (long i = 0; i < n; ++i) {
        const auto m = message(i);
        std::string body = m.payload;
        handle(runtime, noop, plexus::transport::toAmqp(m), body);
      }
      bench::print({{"messages", n}});
      return;
    }

    const std::string url = args.str("url");
    const long n = args.num("messages", 20000);
    const long batch = args.num("batch", 100);
    const long prefetch = args.num("prefetch", 64);
    const std::string queue =
        args.str("queue", "bench.dispatch") + "." + std::to_string(::getpid());

    plexus::transport::Amqp pub(url);
    pub.open(5000);
    pub.declareQueue(queue, {{"x-expires", int64_t{600000}}});  // gone if a run is interrupted
    pub.confirmSelect();
    plexus::transport::Amqp sub(url);
    sub.open(5000);
    sub.qos(static_cast<uint16_t>(prefetch));
    sub.consume(queue);

    std::atomic<bool> failed{false};
    double lastAck = 0;
    long acks = 0;
    std::thread consumer([&] {
      try {
        // As the host's consumer does: what has arrived (up to the prefetch) is one batch, each
        // message delivered, then one ack with `multiple` for the batch.
        std::vector<plexus::transport::AmqpMessage> ready;
        for (long got = 0; got < n; got += static_cast<long>(ready.size()), ++acks) {
          auto m = sub.next(30000);
          if (!m) throw std::runtime_error("no message within 30 s");
          ready.clear();
          ready.push_back(std::move(*m));
          sub.takeReady(ready, static_cast<size_t>(prefetch));
          for (auto& r : ready) handle(runtime, noop, r.properties, r.body);
          sub.ack(ready.back().deliveryTag, true);
        }
        lastAck = bench::nowSeconds();
      } catch (const std::exception& e) {
        std::cerr << "error: consumer: " << e.what() << "\n";
        failed = true;
      }
    });
    const double start = bench::nowSeconds();
    for (long i = 0; i < n && !failed; ++i) {
      const auto e = message(i);
      pub.publish("", queue, plexus::transport::toAmqp(e), e.payload);
      if ((i + 1) % batch == 0 || i + 1 == n) pub.waitForConfirms(10000);
    }
    consumer.join();
    if (failed) throw std::runtime_error("consumer failed");
    const double seconds = lastAck - start;
    bench::print({{"messages", n},
                  {"seconds", seconds},
                  {"msgs_per_s", static_cast<double>(n) / seconds},
                  {"prefetch", prefetch},
                  {"batch", batch},
                  {"acks", acks}});
  });
}
