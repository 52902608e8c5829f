#include "transport/rabbitmq.hpp"

#include "dispatch/fault.hpp"
#include "observability/log.hpp"
#include "transport/amqp.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace plexus::transport {
namespace {
constexpr const char* kEvents = "plexus.events";
constexpr const char* kCommands = "plexus.commands";
constexpr const char* kDlx = "plexus.dlx";
constexpr const char* kUnroutable = "plexus.unroutable";
}  // namespace

RabbitTransport::RabbitTransport(RabbitOptions options, dispatch::Bus& bus,
                                 std::set<std::string> events, std::set<std::string> commands)
    : options_(std::move(options)),
      bus_(bus),
      events_(std::move(events)),
      commands_(std::move(commands)),
      publisher_(std::make_unique<Amqp>(options_.url, options_.tls)) {}

RabbitTransport::~RabbitTransport() { stop(); }

void RabbitTransport::declare(Amqp& a) {
  a.declareExchange(kUnroutable, "fanout");
  a.declareQueue(kUnroutable);
  a.bindQueue(kUnroutable, kUnroutable, "");
  a.declareExchange(kEvents, "topic");
  a.declareExchange(kCommands, "direct", {{"alternate-exchange", std::string(kUnroutable)}});
  a.declareExchange(kDlx, "direct");
  const std::string dlq = options_.service + ".dead-letter";
  a.declareQueue(dlq);
  a.bindQueue(dlq, kDlx, dlq);
  a.declareExchange(options_.service, "x-consistent-hash",
                    {{"hash-header", std::string("x-stream")}});
  for (int i = 0; i < options_.partitions; ++i) {
    const std::string q = options_.service + ".p" + std::to_string(i);
    a.declareQueue(q, {{"x-single-active-consumer", true},
                       {"x-dead-letter-exchange", std::string(kDlx)},
                       {"x-dead-letter-routing-key", dlq}});
    a.bindQueue(q, options_.service, "1");
  }
  for (const auto& t : events_) a.bindExchange(options_.service, kEvents, t);
  for (const auto& t : commands_) a.bindExchange(options_.service, kCommands, t);
}

void RabbitTransport::start() {
  consumer_ = std::thread([this] { consumeLoop(); });
}

void RabbitTransport::stopConsuming() {
  stopping_ = true;
  if (consumer_.joinable())
    consumer_.join();  // unacked prefetched messages are requeued by the broker
}

void RabbitTransport::stop() {
  stopConsuming();
  publisher_->close();
}

std::string RabbitTransport::state() const {
  if (consumerUp_ && publisherUp_) return "connected";
  std::lock_guard<std::mutex> lock(stateMu_);
  return "degraded: " + (lastError_.empty() ? std::string("connecting") : lastError_);
}

void RabbitTransport::publish(const std::vector<dispatch::Outbound>& messages) {
  try {
    if (!publisher_->isOpen()) {
      publisher_->open(5000);
      declare(*publisher_);
      publisher_->confirmSelect();
    }
    for (const auto& m : messages) {
      if (m.kind == "dead-letter") {
        publisher_->publish(kDlx, options_.service + ".dead-letter", m.envelope, m.id, m.type,
                            m.stream);
      } else {
        publisher_->publish(m.kind == "command" ? kCommands : kEvents, m.type, m.envelope, m.id,
                            m.type, m.stream, m.traceparent);
      }
      dispatch::fault::reach(dispatch::fault::Point::MidRelay);
    }
    publisher_->waitForConfirms(options_.confirmTimeoutMs);
    publisherUp_ = true;
  } catch (const AmqpError& e) {
    publisherUp_ = false;
    {
      std::lock_guard<std::mutex> lock(stateMu_);
      lastError_ = e.what();
    }
    publisher_->close();
    throw;
  }
}

void RabbitTransport::consumeLoop() {
  int failures = 0;
  std::mutex sleepMu;
  std::condition_variable sleepCv;  // never notified: a bounded backoff wait that stop() cuts short
  while (!stopping_) {
    Amqp amqp(options_.url, options_.tls);
    try {
      amqp.open(5000);
      declare(amqp);
      amqp.qos(static_cast<uint16_t>(options_.prefetch));
      for (int i = 0; i < options_.partitions; ++i)
        amqp.consume(options_.service + ".p" + std::to_string(i));
      consumerUp_ = true;
      if (failures > 0) log::write(log::Level::Info, "broker connection restored");
      failures = 0;
      while (!stopping_) {
        auto m = amqp.next(200);
        if (!m) continue;
        // Group commit: what the broker has already sent (up to the prefetch) is stored in one
        // transaction, then acked: one WAL flush instead of one per message.
        std::vector<AmqpMessage> batch;
        batch.push_back(std::move(*m));
        while (batch.size() < static_cast<size_t>(options_.prefetch)) {
          auto more = amqp.next(0);
          if (!more) break;
          batch.push_back(std::move(*more));
        }
        std::vector<std::string> bodies, traceparents, errors;
        for (const auto& b : batch) {
          bodies.push_back(b.body);
          traceparents.push_back(b.traceparent);
        }
        std::vector<bool> committed;
        try {
          committed = bus_.acceptBatch(bodies, traceparents, errors);
        } catch (const std::exception& e) {
          // The store is down: hand the messages back to the broker; they come again.
          log::write(log::Level::Warn, "cannot store consumed messages; requeued",
                     nlohmann::json{{"messages", batch.size()}, {"error", e.what()}});
          for (const auto& b : batch) amqp.reject(b.deliveryTag, true);
          throw AmqpError(std::string("store unavailable: ") + e.what());
        }
        const bool all = std::all_of(committed.begin(), committed.end(), [](bool c) { return c; });
        for (size_t i = 0; i < batch.size(); ++i) {
          if (committed[i]) {
            dispatch::fault::reach(dispatch::fault::Point::AfterCommitBeforeAck);
            // Only after the batch is committed; one frame for the whole batch when it can.
            if (!all) amqp.ack(batch[i].deliveryTag);
          } else {
            log::write(log::Level::Warn, "unusable message sent to the dead-letter queue",
                       nlohmann::json{{"message_id", batch[i].messageId}, {"error", errors[i]}});
            amqp.reject(batch[i].deliveryTag, false);
          }
        }
        if (all) amqp.ack(batch.back().deliveryTag, true);
      }
    } catch (const AmqpError& e) {
      consumerUp_ = false;
      ++failures;
      {
        std::lock_guard<std::mutex> lock(stateMu_);
        lastError_ = e.what();
      }
      log::write(log::Level::Warn, "broker unavailable; reconnecting",
                 nlohmann::json{{"error", e.what()}, {"failures", failures}});
    }
    amqp.close();
    const int waitMs = std::min(100 << std::min(failures, 6), 5000);
    std::unique_lock<std::mutex> lock(sleepMu);
    for (int waited = 0; waited < waitMs && !stopping_; waited += 100) {
      sleepCv.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  consumerUp_ = false;
}

}  // namespace plexus::transport
