// The transport recipe of docs/architecture.md, done once: a test-only transport registered by
// kind through transport/registry.hpp, created by transport::create as the host does, and used by
// the dispatcher, which knows nothing of it (no dispatch file names it).
#include "base/clock.hpp"
#include "config/config.hpp"
#include "dispatch/dispatcher.hpp"
#include "dispatch/handler_table.hpp"
#include "http/server.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"
#include "support.hpp"
#include "transport/registry.hpp"
#include "transport_api/transport.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace {

using nlohmann::json;
using plexus::test::eventually;
using plexus::test::http;

// A broker in memory: publish queues, a consumer thread hands the queue to the host's Inbound.
class Loopback final : public plexus::transport::Transport {
 public:
  explicit Loopback(plexus::transport::Bindings bindings) : bindings_(std::move(bindings)) {}
  ~Loopback() override { stopConsuming(); }

  void start(plexus::transport::Inbound& inbound) override {
    consumer_ = std::thread([this, &inbound] { consume(inbound); });
  }
  void stopConsuming() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (consumer_.joinable()) consumer_.join();
  }
  void stop() override {}
  void publish(const std::vector<plexus::Message>& messages) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& m : messages) queue_.push_back(m);
    }
    published_ += static_cast<int>(messages.size());
    cv_.notify_all();
  }
  std::string state() const override { return "connected"; }

  const plexus::transport::Bindings& bindings() const { return bindings_; }
  int published() const { return published_; }
  int delivered() const { return delivered_; }

 private:
  void consume(plexus::transport::Inbound& inbound) {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      std::vector<plexus::transport::Received> batch;
      for (auto& m : queue_) batch.push_back({std::move(m), {}});
      queue_.clear();
      lock.unlock();
      inbound.accept(batch);
      delivered_ += static_cast<int>(batch.size());
      lock.lock();
    }
  }

  plexus::transport::Bindings bindings_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<plexus::Message> queue_;
  bool stopping_ = false;
  std::thread consumer_;
  std::atomic<int> published_{0};
  std::atomic<int> delivered_{0};
};

TEST(TransportSeam, ARegisteredTransportCarriesCommandsAndEventsThroughAnUnchangedDispatcher) {
  Loopback* loopback = nullptr;
  plexus::transport::registerTransport(
      "loopback", [&loopback](const plexus::config::Config&, plexus::transport::Bindings b) {
        auto t = std::make_unique<Loopback>(std::move(b));
        loopback = t.get();
        return t;
      });
  plexus::test::TempDir dir;
  auto cfg = plexus::config::parse(
      R"({"service": "seam-test", "http": {"host": "127.0.0.1", "port": 0},
          "store": {"kind": "sqlite", "url": ")" +
          dir.file("plexus.db") + R"("},
          "transport": {"kind": "inproc", "retry_initial_ms": 20, "poll_interval_ms": 200},
          "plugins": [{"library": ")" +
          plexus::test::testPlugin("testkit") + R"("}]})",
      "inline.json", [](const std::string&) { return std::nullopt; });
  cfg.transport.kind = "loopback";  // config/transport.cpp lists the kinds it accepts

  plexus::Metrics metrics;
  plexus::plugin::Runtime runtime(metrics);
  runtime.start(cfg);
  auto db = plexus::store::Store::open(cfg.store, cfg.store.poolSize);
  std::vector<plexus::store::Migration> migrations;
  for (const auto& m : runtime.plugins()[0]->migrations)
    migrations.push_back({"testkit", m.version, m.name, m.sql});
  plexus::store::migrate(*db, migrations);

  plexus::dispatch::HandlerTable handlers(runtime);
  auto transport = plexus::transport::create(cfg, {handlers.eventTypes(), handlers.commandTypes()});
  ASSERT_NE(transport, nullptr);
  ASSERT_EQ(transport.get(), loopback);
  EXPECT_EQ(loopback->bindings().commands.count("Count"), 1u);

  plexus::dispatch::Options o;
  o.retryInitialMs = 20;
  o.pollIntervalMs = 200;
  plexus::dispatch::Dispatcher dispatcher(runtime, *db, metrics, o, transport.get(),
                                          plexus::systemClock());
  runtime.attachStore(db.get(), [&dispatcher] { dispatcher.wake(); });
  std::atomic<bool> migrated{true};
  auto server = std::make_unique<plexus::http::Server>(cfg, runtime, metrics);
  server->attach(db.get(), &dispatcher, &migrated);
  server->start();
  dispatcher.start();
  const int port = server->port();

  ASSERT_EQ(http(port, "POST", "/t/count", R"({"stream": "seam", "seq": 1})").status, 202);
  auto count = [&] { return json::parse(http(port, "GET", "/t/count/seam").body); };
  // The Count command and the Counted event each went out through the transport and came back.
  ASSERT_TRUE(eventually([&] { return count()["log"].size() == 1; })) << count();
  EXPECT_EQ(count()["n"], 1);
  EXPECT_TRUE(eventually([&] { return loopback->delivered() >= 2; }));
  EXPECT_GE(loopback->published(), 2);

  server.reset();
  dispatcher.stop();
}

}  // namespace
