#pragma once
// The RabbitMQ transport (DESIGN.md §3). Topology, declared idempotently at start:
//   plexus.events    topic exchange, routing key = event type
//   plexus.commands  direct exchange, routing key = command type (alternate exchange
//                    plexus.unroutable keeps commands no service owns, instead of dropping them)
//   plexus.dlx       direct exchange for dead letters; queue <service>.dead-letter
//   <service>        consistent-hash exchange on header x-stream, bound from the two exchanges
//                    for every type the deployment handles, feeding <service>.p0..pN-1 partition
//                    queues with single-active-consumer: one stream -> one queue -> one consumer
//                    at a time across replicas, in order.
// A consumed batch is committed by the host (transport::Inbound), then acked; the publisher sends
// committed outbox rows with publisher confirms. Both reconnect with backoff.

#include "config/config.hpp"
#include "transport/amqp.hpp"
#include "transport/transport.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace plexus::transport {

struct RabbitOptions {
  std::string url;
  AmqpTls tls;  // for amqps:// URLs
  std::string service;
  int partitions = 4;
  int prefetch = 64;
  int confirmTimeoutMs = 10000;
};

class RabbitTransport final : public Transport {
 public:
  RabbitTransport(RabbitOptions options, Bindings bindings);
  ~RabbitTransport() override;

  void start(Inbound& inbound) override;  // consumer thread
  void stopConsuming() override;
  void stop() override;
  void publish(const std::vector<Message>& messages) override;
  std::string state() const override;

 private:
  void declare(Amqp& amqp);
  void consumeLoop();
  void consumeBatch(Amqp& amqp, AmqpMessage first);

  RabbitOptions options_;
  Bindings bindings_;
  Inbound* inbound_ = nullptr;
  std::unique_ptr<Amqp> publisher_;  // relay thread only
  std::atomic<bool> stopping_{false};
  std::atomic<bool> consumerUp_{false};
  std::atomic<bool> publisherUp_{true};
  mutable std::mutex stateMu_;
  std::string lastError_;
  std::thread consumer_;
};

// The factory registered as transport kind "rabbitmq" (transport/registry.cpp).
std::unique_ptr<Transport> createRabbitTransport(const config::Config& config, Bindings bindings);

}  // namespace plexus::transport
