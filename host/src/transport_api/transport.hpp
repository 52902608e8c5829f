#pragma once
// The seam between the host and a message broker (DESIGN.md §3). A transport publishes what the
// relay hands it, with confirms, and hands consumed messages to the host's Inbound, acking them
// once the host committed them. RabbitMQ implements it (transport/rabbitmq.*); a second broker
// (Kafka, say) implements the same interface and registers a factory (transport/registry.hpp):
// dispatch does not change. Without a broker ("inproc") there is no transport: the relay hands
// committed outbox rows to the local handlers itself.

#include "message/message.hpp"

#include <set>
#include <string>
#include <vector>

namespace plexus {
class Metrics;
}

namespace plexus::transport {

// One consumed message. `error` set: the transport could not make a usable message of it (the
// host dead-letters it with that reason; what could be read is in `message`).
struct Received {
  Message message;
  std::string error;
};

class Inbound {
 public:
  virtual ~Inbound() = default;
  // Commits the batch before it returns: handlers ran, or the messages are stored for later.
  // ok[i] false: message i is unusable (recorded as a dead letter; the transport sends it to the
  // broker's dead-letter queue instead of acking it). Throws when nothing could be committed
  // (the transport hands the whole batch back to the broker).
  virtual std::vector<bool> accept(std::vector<Received>& batch) = 0;
};

// What a deployment's queues are bound to.
struct Bindings {
  std::set<std::string> events;    // every event type a local handler takes
  std::set<std::string> commands;  // every command type a local receptor owns
};

// One broker connection of a host: its role ("consumer", "publisher") and the node it uses
// ("host:port"; empty while it is not connected).
struct Connection {
  std::string role;
  std::string node;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Before the host serves: compares what the broker already has (queue types, arguments) with
  // the configuration and throws std::invalid_argument naming the difference and what to do.
  // A broker that cannot be reached is no error here: the transport reconnects once started.
  virtual void verify() {}
  // Registers the transport's own metrics (which node each connection uses) on the host's.
  virtual void attachMetrics(Metrics& metrics) { (void)metrics; }
  // Starts consuming into `inbound` (declares the topology on every (re)connect).
  virtual void start(Inbound& inbound) = 0;
  // Stops consuming; unacked messages go back to the broker.
  virtual void stopConsuming() = 0;
  // After the relay stopped: closes the publisher too.
  virtual void stop() = 0;
  // Publishes every message with confirms; throws on any failure (the rows stay in the outbox
  // and are published again). Kind "dead-letter" goes to the deployment's dead-letter queue.
  // Called from the relay thread only.
  virtual void publish(const std::vector<Message>& messages) = 0;
  // "connected", or "degraded: <reason>" while the broker is unreachable (readiness reports it).
  virtual std::string state() const = 0;
  // Which node each connection uses (readiness and metrics show it).
  virtual std::vector<Connection> connections() const { return {}; }
};

}  // namespace plexus::transport
