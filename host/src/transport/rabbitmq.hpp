#pragma once
// The RabbitMQ transport (DESIGN.md §3); the topology it declares is in transport/topology.hpp.
// A consumed batch is committed by the host (transport::Inbound), then acked; the publisher sends
// committed outbox rows with publisher confirms. Both connections walk the nodes of
// transport.urls (transport/endpoints.hpp): each starts at a node of its own and, when its node
// fails, reconnects to the next one with backoff. A publish that fails or is not confirmed throws,
// so its outbox rows stay and are published again (through another node); the inbox dedupes.

#include "config/config.hpp"
#include "transport/amqp.hpp"
#include "transport/endpoints.hpp"
#include "transport/topology.hpp"
#include "transport_api/transport.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace plexus::transport {

struct RabbitOptions {
  std::vector<std::string> urls;  // one per broker node
  AmqpTls tls;                    // for amqps:// URLs
  TopologyOptions topology;
  int prefetch = 64;  // per consumer connection
  int consumers = 1;  // consumer connections; consumer i takes partitions i, i + consumers, ...
  int maxBatch = 0;   // messages per consume transaction; 0: what has arrived, up to the prefetch
  int confirmTimeoutMs = 10000;
  int connectTimeoutMs = 5000;  // per node
};

class RabbitTransport final : public Transport {
 public:
  RabbitTransport(RabbitOptions options, Bindings bindings);
  ~RabbitTransport() override;

  void verify() override;
  void attachMetrics(Metrics& metrics) override;
  void start(Inbound& inbound) override;  // one thread per consumer connection
  void stopConsuming() override;
  void stop() override;
  void publish(const std::vector<Message>& messages) override;
  std::string state() const override;
  std::vector<Connection> connections() const override;

 private:
  // One connection's walk over the nodes, and the node it is on (-1: none).
  struct Link {
    Link(std::string r, Endpoints e) : role(std::move(r)), endpoints(std::move(e)) {}
    std::string role;
    Endpoints endpoints;
    int node = -1;  // guarded by stateMu_
  };
  // Opens a connection on the first node that answers, the link's current one first.
  std::unique_ptr<Amqp> connect(Link& link);
  void lost(Link& link, const std::string& error);
  void setNode(Link& link, int node);
  // A consumer connection and its thread. It takes whole partitions, so a stream (one
  // partition) is never handled on two connections at once and keeps its order.
  struct Consumer {
    Consumer(std::string role, Endpoints e, int i)
        : link(std::move(role), std::move(e)), index(i) {}
    Link link;
    int index;
    std::atomic<bool> up{false};
    std::thread thread;
  };
  void consumeLoop(Consumer& c);
  void subscribe(Amqp& amqp, const Consumer& c);
  void consumeBatch(Amqp& amqp, AmqpMessage first);
  std::vector<bool> commit(Amqp& amqp, std::vector<AmqpMessage>& batch,
                           std::vector<Received>& received);

  RabbitOptions options_;
  Bindings bindings_;
  Inbound* inbound_ = nullptr;
  std::vector<std::unique_ptr<Consumer>> consumers_;
  Link publisherLink_;
  std::unique_ptr<Amqp> publisher_;  // relay thread only
  std::atomic<bool> stopping_{false};
  std::atomic<bool> publisherUp_{true};
  mutable std::mutex stateMu_;
  std::string lastError_;
  Metrics* metrics_ = nullptr;
  int64_t connectionMetric_ = 0;
  int64_t connectsMetric_ = 0;
};

// The factory registered as transport kind "rabbitmq" (transport/registry.cpp).
std::unique_ptr<Transport> createRabbitTransport(const config::Config& config, Bindings bindings);

}  // namespace plexus::transport
