#include "transport/topology.hpp"

namespace plexus::transport {
namespace {

constexpr const char* kMigration =
    "docs/operations.md, \"Changing the queue type\" (stop the deployment's hosts, let the queue "
    "drain, delete it, start the hosts with the new setting)";

// The text between `open` and the next `close` after it, or "".
std::string between(const std::string& text, const std::string& open, const std::string& close) {
  const size_t from = text.find(open);
  if (from == std::string::npos) return "";
  const size_t start = from + open.size();
  const size_t end = text.find(close, start);
  return end == std::string::npos ? "" : text.substr(start, end - start);
}

// What the broker has: "current is none", "current is 'quorum'", "current is the value '20' ...".
std::string currentValue(const std::string& brokerError) {
  const std::string marker = "but current is ";
  const size_t at = brokerError.find(marker);
  if (at == std::string::npos) return "";
  const std::string rest = brokerError.substr(at + marker.size());
  if (rest.rfind("none", 0) == 0) return "none";
  return between(rest, "'", "'");
}

using Arguments = AmqpArgs (*)(const TopologyOptions&);

// Whether `queue` is exactly what a host with the other queue type declares: the broker names the
// first argument that differs, which need not be x-queue-type. The refusal closed the connection:
// the probe opens it again (declaring an equivalent queue changes nothing).
std::string otherTypeIfSo(Amqp& a, const std::string& queue, Arguments arguments,
                          const TopologyOptions& o) {
  TopologyOptions other = o;
  other.queueType = o.queueType == "quorum" ? "classic" : "quorum";
  try {
    a.open(5000);
    a.declareQueue(queue, arguments(other));
    a.close();
    return other.queueType;
  } catch (const AmqpError&) {
    return "";
  }
}

void declareQueue(Amqp& a, const std::string& name, Arguments arguments, const TopologyOptions& o) {
  try {
    a.declareQueue(name, arguments(o));
  } catch (const AmqpError& e) {
    const std::string what = e.what();
    if (what.find("inequivalent arg") == std::string::npos) throw;
    throw TopologyError(mismatchMessage(name, what, o, otherTypeIfSo(a, name, arguments, o)));
  }
}

}  // namespace

std::string partitionQueue(const std::string& service, int partition) {
  return service + ".p" + std::to_string(partition);
}

std::string deadLetterQueue(const std::string& service) { return service + ".dead-letter"; }

AmqpArgs partitionArguments(const TopologyOptions& o) {
  AmqpArgs args{{"x-queue-type", o.queueType},
                {"x-single-active-consumer", true},
                {"x-dead-letter-exchange", std::string(kDlx)},
                {"x-dead-letter-routing-key", deadLetterQueue(o.service)}};
  if (o.queueType == "quorum") {
    // A message handed back this often (consumers that crashed or lost their connection while
    // holding it) goes to the dead-letter queue instead of looping; the host's own retries come
    // first (max_attempts), as they ack the message and reschedule it in the store.
    args["x-delivery-limit"] = int64_t{o.deliveryLimit};
    // The broker keeps a dead letter until the dead-letter queue confirmed it (3.10+), which
    // needs reject-publish overflow (the queues have no length limit, so nothing is refused).
    args["x-dead-letter-strategy"] = std::string("at-least-once");
    args["x-overflow"] = std::string("reject-publish");
    args["x-queue-leader-locator"] = std::string("balanced");
  }
  return args;
}

AmqpArgs deadLetterArguments(const TopologyOptions& o) {
  AmqpArgs args{{"x-queue-type", o.queueType}};
  // Leaders spread over the nodes (not all on the node that declared them first), so a node lost
  // moves a share of the leaders, not all of them.
  if (o.queueType == "quorum") args["x-queue-leader-locator"] = std::string("balanced");
  return args;
}

std::string mismatchMessage(const std::string& queue, const std::string& brokerError,
                            const TopologyOptions& o, const std::string& existingType) {
  const std::string arg = between(brokerError, "inequivalent arg '", "'");
  std::string current = currentValue(brokerError);
  if (arg == "x-queue-type" || !existingType.empty()) {
    if (!existingType.empty()) current = existingType;
    if (current == "none" || current.empty()) current = "classic";
    return "RabbitMQ queue '" + queue + "' is a " + current +
           " queue, but transport.queue_type is \"" + o.queueType +
           "\": a queue's type cannot change in place; migrate it as described in " + kMigration;
  }
  if (arg == "x-delivery-limit") {
    return "RabbitMQ queue '" + queue + "' has x-delivery-limit " + current +
           ", but transport.delivery_limit is " + std::to_string(o.deliveryLimit) +
           ": a queue argument cannot change in place; set transport.delivery_limit back to " +
           current +
           " (a RabbitMQ policy with delivery-limit can lower it) or recreate the queue as "
           "described in " +
           kMigration;
  }
  return "RabbitMQ queue '" + queue + "' exists with other arguments than this host declares (" +
         brokerError + "); recreate it as described in " + kMigration;
}

void declareTopology(Amqp& a, const TopologyOptions& o, const Bindings& bindings) {
  a.declareExchange(kUnroutable, "fanout");
  // Shared by every deployment: one created with the other queue type (a mixed test broker, a
  // migration half done) is used as it is.
  if (!a.queueExists(kUnroutable)) declareQueue(a, kUnroutable, &deadLetterArguments, o);
  a.bindQueue(kUnroutable, kUnroutable, "");
  a.declareExchange(kEvents, "topic");
  a.declareExchange(kCommands, "direct", {{"alternate-exchange", std::string(kUnroutable)}});
  a.declareExchange(kDlx, "direct");
  const std::string dlq = deadLetterQueue(o.service);
  declareQueue(a, dlq, &deadLetterArguments, o);
  a.bindQueue(dlq, kDlx, dlq);
  a.declareExchange(o.service, "x-consistent-hash", {{"hash-header", std::string("x-stream")}});
  for (int i = 0; i < o.partitions; ++i) {
    const std::string q = partitionQueue(o.service, i);
    declareQueue(a, q, &partitionArguments, o);
    a.bindQueue(q, o.service, "1");
  }
  for (const auto& t : bindings.events) a.bindExchange(o.service, kEvents, t);
  for (const auto& t : bindings.commands) a.bindExchange(o.service, kCommands, t);
}

}  // namespace plexus::transport
