#pragma once
// What the RabbitMQ transport declares (DESIGN.md §3), idempotently, on every connection:
//   plexus.events    topic exchange, routing key = event type
//   plexus.commands  direct exchange, routing key = command type (alternate exchange
//                    plexus.unroutable keeps commands no service owns, instead of dropping them)
//   plexus.dlx       direct exchange for dead letters; queue <service>.dead-letter
//   <service>        consistent-hash exchange on header x-stream, bound from the two exchanges
//                    for every type the deployment handles, feeding <service>.p0..pN-1 partition
//                    queues with single-active-consumer: one stream -> one queue -> one consumer
//                    at a time across replicas, in order.
// Queues are of transport.queue_type. Quorum partition queues add at-least-once dead-lettering
// (with the reject-publish overflow it needs) and a delivery limit. A queue the broker already has
// with another type or other arguments is a TopologyError naming the queue and the way out.

#include "transport/amqp.hpp"
#include "transport_api/transport.hpp"

#include <string>

namespace plexus::transport {

constexpr const char* kEvents = "plexus.events";
constexpr const char* kCommands = "plexus.commands";
constexpr const char* kDlx = "plexus.dlx";
constexpr const char* kUnroutable = "plexus.unroutable";

// The broker refused a declaration because the queue exists with other arguments: a
// configuration problem, not an outage (reconnecting does not help).
class TopologyError : public AmqpError {
 public:
  using AmqpError::AmqpError;
};

struct TopologyOptions {
  std::string service;
  int partitions = 4;
  std::string queueType = "classic";  // "classic" | "quorum"
  int deliveryLimit = 20;             // quorum: x-delivery-limit
};

std::string partitionQueue(const std::string& service, int partition);
std::string deadLetterQueue(const std::string& service);

// The arguments of a partition queue, and of the dead-letter queue.
AmqpArgs partitionArguments(const TopologyOptions& options);
AmqpArgs deadLetterArguments(const TopologyOptions& options);

// The error for a queue the broker refused with "inequivalent arg ...": which argument differs,
// what the broker has, what the configuration asks for, and what to do. `existingType`: the type
// the queue turned out to have when that is what differs ("" = not known).
std::string mismatchMessage(const std::string& queue, const std::string& brokerError,
                            const TopologyOptions& options, const std::string& existingType = "");

// Declares everything (throws AmqpError, TopologyError).
void declareTopology(Amqp& amqp, const TopologyOptions& options, const Bindings& bindings);

}  // namespace plexus::transport
