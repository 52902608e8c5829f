#include "transport/rabbitmq.hpp"

#include "base/fault.hpp"
#include "observability/log.hpp"
#include "transport/amqp.hpp"
#include "transport/cloudevents.hpp"

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

RabbitTransport::RabbitTransport(RabbitOptions options, Bindings bindings)
    : options_(std::move(options)),
      bindings_(std::move(bindings)),
      publisher_(std::make_unique<Amqp>(options_.url, options_.tls)) {}

std::unique_ptr<Transport> createRabbitTransport(const config::Config& config, Bindings bindings) {
  RabbitOptions o;
  o.url = config.transport.url;
  const auto& tls = config.transport.tls;
  o.tls = {tls.caFile, tls.certFile, tls.keyFile, tls.verifyPeer, tls.verifyHostname};
  o.service = config.service;
  o.partitions = config.transport.partitions;
  o.prefetch = config.transport.prefetch;
  return std::make_unique<RabbitTransport>(std::move(o), std::move(bindings));
}

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
  for (const auto& t : bindings_.events) a.bindExchange(options_.service, kEvents, t);
  for (const auto& t : bindings_.commands) a.bindExchange(options_.service, kCommands, t);
}

void RabbitTransport::start(Inbound& inbound) {
  inbound_ = &inbound;
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

void RabbitTransport::publish(const std::vector<Message>& messages) {
  try {
    if (!publisher_->isOpen()) {
      publisher_->open(5000);
      declare(*publisher_);
      publisher_->confirmSelect();
    }
    for (const auto& m : messages) {
      // Binary content mode: the payload is the body, untouched.
      if (m.kind == "dead-letter") {
        publisher_->publish(kDlx, options_.service + ".dead-letter", toAmqp(m), m.payload);
      } else {
        publisher_->publish(m.kind == "command" ? kCommands : kEvents, m.type, toAmqp(m),
                            m.payload);
      }
      fault::reach(fault::Point::MidRelay);
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
        if (m) consumeBatch(amqp, std::move(*m));
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

// Group commit: what the broker has already sent (up to the prefetch) is committed by the host in
// one transaction, then acked: one WAL flush instead of one per message.
void RabbitTransport::consumeBatch(Amqp& amqp, AmqpMessage first) {
  std::vector<AmqpMessage> batch;
  batch.push_back(std::move(first));
  while (batch.size() < static_cast<size_t>(options_.prefetch)) {
    auto more = amqp.next(0);
    if (!more) break;
    batch.push_back(std::move(*more));
  }
  std::vector<Received> received(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const AmqpProperties& p = batch[i].properties;
    auto m = fromAmqp(p, batch[i].body, batch[i].exchange, received[i].error);
    if (m) {
      received[i].message = std::move(*m);
    } else {  // what could be read, for the dead letter
      Message& bad = received[i].message;
      bad = salvage(p, batch[i].exchange);
      if (bad.id.empty()) bad.id = "unidentified-" + std::to_string(batch[i].deliveryTag);
      bad.payload = std::move(batch[i].body);
    }
    // The publish span (AMQP header) is the parent of the consume span.
    if (const std::string* tp = p.header("traceparent")) received[i].message.traceparent = *tp;
  }
  std::vector<bool> committed;
  try {
    committed = inbound_->accept(received);
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
      fault::reach(fault::Point::AfterCommitBeforeAck);
      // Only after the batch is committed; one frame for the whole batch when it can.
      if (!all) amqp.ack(batch[i].deliveryTag);
    } else {
      log::write(
          log::Level::Warn, "unusable message sent to the dead-letter queue",
          nlohmann::json{{"message_id", received[i].message.id}, {"error", received[i].error}});
      amqp.reject(batch[i].deliveryTag, false);
    }
  }
  if (all) amqp.ack(batch.back().deliveryTag, true);
}

}  // namespace plexus::transport
