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
// A consumed message is committed into the store as deliveries, then acked; the publisher sends
// committed outbox rows with publisher confirms. Both reconnect with backoff.

#include "dispatch/bus.hpp"
#include "transport/amqp.hpp"

#include <atomic>
#include <memory>
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

class RabbitTransport final : public dispatch::Publisher {
 public:
  RabbitTransport(RabbitOptions options, dispatch::Bus& bus, std::set<std::string> events,
                  std::set<std::string> commands);
  ~RabbitTransport() override;

  void start();  // consumer thread (declares the topology on every (re)connect)
  void stopConsuming();
  void stop();  // after the bus stopped: closes the publisher too
  void publish(const std::vector<dispatch::Outbound>& messages) override;

  // "connected", or "degraded: <reason>" while the broker is unreachable.
  std::string state() const;

 private:
  void declare(Amqp& amqp);
  void consumeLoop();

  RabbitOptions options_;
  dispatch::Bus& bus_;
  std::set<std::string> events_;
  std::set<std::string> commands_;
  std::unique_ptr<Amqp> publisher_;  // relay thread only
  std::atomic<bool> stopping_{false};
  std::atomic<bool> consumerUp_{false};
  std::atomic<bool> publisherUp_{true};
  mutable std::mutex stateMu_;
  std::string lastError_;
  std::thread consumer_;
};

}  // namespace plexus::transport
