#include "transport/rabbitmq.hpp"

#include "base/fault.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "transport/cloudevents.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <stdexcept>
#include <vector>

namespace plexus::transport {
namespace {

using nlohmann::json;

// Where a host's connections start: a random node, each consumer connection one after the other
// and the publisher after them, so the connections of many hosts spread over the cluster.
size_t firstNode() { return std::random_device{}(); }

int backoffMs(int failures) { return std::min(100 << std::min(failures, 6), 5000); }

// Builds what the host sees of each consumed message (unusable ones carry their error).
std::vector<Received> toReceived(const std::vector<AmqpMessage>& batch) {
  std::vector<Received> received(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const AmqpProperties& p = batch[i].properties;
    std::string body = batch[i].body;  // kept in the batch for another try
    auto m = fromAmqp(p, body, batch[i].exchange, received[i].error);
    if (m) {
      received[i].message = std::move(*m);
    } else {  // what could be read, for the dead letter
      Message& bad = received[i].message;
      bad = salvage(p, batch[i].exchange);
      if (bad.id.empty()) bad.id = "unidentified-" + std::to_string(batch[i].deliveryTag);
      bad.payload = batch[i].body;
    }
    // The publish span (AMQP header) is the parent of the consume span.
    if (const std::string* tp = p.header("traceparent")) received[i].message.traceparent = *tp;
  }
  return received;
}

}  // namespace

RabbitTransport::RabbitTransport(RabbitOptions options, Bindings bindings)
    : options_(std::move(options)),
      bindings_(std::move(bindings)),
      publisherLink_("publisher", Endpoints(options_.urls, 0)) {
  const size_t first = firstNode();
  const int n = std::max(1, std::min(options_.consumers, options_.topology.partitions));
  for (int i = 0; i < n; ++i) {
    const std::string role = i == 0 ? "consumer" : "consumer-" + std::to_string(i + 1);
    consumers_.push_back(std::make_unique<Consumer>(role, Endpoints(options_.urls, first + i), i));
  }
  publisherLink_.endpoints = Endpoints(options_.urls, first + n);
}

std::unique_ptr<Transport> createRabbitTransport(const config::Config& config, Bindings bindings) {
  RabbitOptions o;
  o.urls = config.transport.urls;
  if (o.urls.empty()) o.urls = {config.transport.url};
  const auto& tls = config.transport.tls;
  o.tls = {tls.caFile, tls.certFile, tls.keyFile, tls.verifyPeer, tls.verifyHostname};
  o.topology.service = config.service;
  o.topology.partitions = config.transport.partitions;
  o.topology.queueType = config.transport.queueType;
  o.topology.deliveryLimit = config.transport.deliveryLimit;
  o.prefetch = config.transport.prefetch;
  o.consumers = config.transport.consumers;
  o.maxBatch = config.transport.maxBatch;
  return std::make_unique<RabbitTransport>(std::move(o), std::move(bindings));
}

RabbitTransport::~RabbitTransport() { stop(); }

std::unique_ptr<Amqp> RabbitTransport::connect(Link& link) {
  std::string errors;
  for (size_t i : link.endpoints.order()) {
    auto amqp = std::make_unique<Amqp>(link.endpoints.url(i), options_.tls);
    try {
      amqp->open(options_.connectTimeoutMs);
      link.endpoints.reached(i);
      return amqp;
    } catch (const AmqpError& e) {
      link.endpoints.failed(i);
      errors += (errors.empty() ? "" : "; ") + link.endpoints.node(i) + ": " + e.what();
    }
  }
  throw AmqpError("no broker node reachable (" + errors + ")");
}

void RabbitTransport::setNode(Link& link, int node) {
  {
    std::lock_guard<std::mutex> lock(stateMu_);
    link.node = node;
  }
  if (metrics_ == nullptr) return;
  const auto& nodes = link.endpoints.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    metrics_->update(connectionMetric_, {link.role, nodes[i]}, static_cast<int>(i) == node ? 1 : 0);
  }
  if (node >= 0) metrics_->update(connectsMetric_, {link.role, nodes[node]}, 1);
}

// The link's node failed (or the connection broke there): the next attempt starts at another.
void RabbitTransport::lost(Link& link, const std::string& error) {
  int node;
  {
    std::lock_guard<std::mutex> lock(stateMu_);
    node = link.node;
    lastError_ = error;
  }
  if (node >= 0) link.endpoints.failed(static_cast<size_t>(node));
  setNode(link, -1);
}

void RabbitTransport::verify() {
  Link probe("verify", Endpoints(options_.urls, 0));
  std::unique_ptr<Amqp> amqp;
  try {
    amqp = connect(probe);
    declareTopology(*amqp, options_.topology, bindings_);
  } catch (const TopologyError& e) {
    throw std::invalid_argument(e.what());
  } catch (const AmqpError& e) {
    log::write(log::Level::Warn, "broker check at start failed; the transport keeps trying",
               json{{"error", e.what()}});
  }
  if (amqp) amqp->close();
}

void RabbitTransport::attachMetrics(Metrics& metrics) {
  std::string error;
  const std::vector<std::string> labels{"connection", "node"};
  connectionMetric_ = metrics.define(
      Metrics::Kind::Gauge, "plexus_broker_connection",
      "Which broker node each connection of this host uses: 1 for its node, 0 for the others.",
      labels, {}, error, true);
  connectsMetric_ = metrics.define(
      Metrics::Kind::Counter, "plexus_broker_connects_total",
      "Broker connections opened, per connection and node (a failover shows as a new node).",
      labels, {}, error, true);
  if (connectionMetric_ > 0 && connectsMetric_ > 0) metrics_ = &metrics;
  std::vector<Link*> links{&publisherLink_};
  for (auto& c : consumers_) links.push_back(&c->link);
  for (Link* link : links) {
    int node;
    {
      std::lock_guard<std::mutex> lock(stateMu_);
      node = link->node;
    }
    setNode(*link, node);
  }
}

void RabbitTransport::start(Inbound& inbound) {
  inbound_ = &inbound;
  for (auto& c : consumers_) c->thread = std::thread([this, &c = *c] { consumeLoop(c); });
}

void RabbitTransport::stopConsuming() {
  stopping_ = true;
  for (auto& c : consumers_) {
    if (c->thread.joinable()) c->thread.join();  // unacked prefetch goes back to the queues
  }
}

void RabbitTransport::stop() {
  stopConsuming();
  if (publisher_) publisher_->close();
}

std::string RabbitTransport::state() const {
  const bool consuming =
      std::all_of(consumers_.begin(), consumers_.end(), [](const auto& c) { return c->up.load(); });
  if (consuming && publisherUp_) return "connected";
  std::lock_guard<std::mutex> lock(stateMu_);
  return "degraded: " + (lastError_.empty() ? std::string("connecting") : lastError_);
}

std::vector<Connection> RabbitTransport::connections() const {
  std::lock_guard<std::mutex> lock(stateMu_);
  std::vector<Connection> out;
  std::vector<const Link*> links;
  for (const auto& c : consumers_) links.push_back(&c->link);
  links.push_back(&publisherLink_);
  for (const Link* link : links) {
    out.push_back({link->role, link->node >= 0 ? link->endpoints.node(link->node) : ""});
  }
  return out;
}

void RabbitTransport::publish(const std::vector<Message>& messages) {
  try {
    if (!publisher_ || !publisher_->isOpen()) {
      publisher_ = connect(publisherLink_);
      setNode(publisherLink_, static_cast<int>(publisherLink_.endpoints.current()));
      declareTopology(*publisher_, options_.topology, bindings_);
      publisher_->confirmSelect();
    }
    const std::string dlq = deadLetterQueue(options_.topology.service);
    for (const auto& m : messages) {
      // Binary content mode: the payload is the body, untouched.
      if (m.kind == "dead-letter") {
        publisher_->publish(kDlx, dlq, toAmqp(m), m.payload);
      } else {
        publisher_->publish(m.kind == "command" ? kCommands : kEvents, m.type, toAmqp(m),
                            m.payload);
      }
      fault::reach(fault::Point::MidRelay);
    }
    // Unconfirmed (node lost, leader election longer than the timeout, nack): the caller keeps
    // the rows and publishes them again.
    publisher_->waitForConfirms(options_.confirmTimeoutMs);
    publisherUp_ = true;
  } catch (const AmqpError& e) {
    publisherUp_ = false;
    lost(publisherLink_, e.what());
    if (publisher_) publisher_->close();
    throw;
  }
}

void RabbitTransport::subscribe(Amqp& amqp, const Consumer& c) {
  const int step = static_cast<int>(consumers_.size());
  for (int p = c.index; p < options_.topology.partitions; p += step)
    amqp.consume(partitionQueue(options_.topology.service, p));
}

void RabbitTransport::consumeLoop(Consumer& c) {
  int failures = 0;
  std::mutex sleepMu;
  std::condition_variable sleepCv;  // never notified: a bounded backoff wait that stop() cuts short
  while (!stopping_) {
    std::unique_ptr<Amqp> amqp;
    try {
      amqp = connect(c.link);
      setNode(c.link, static_cast<int>(c.link.endpoints.current()));
      declareTopology(*amqp, options_.topology, bindings_);
      amqp->qos(static_cast<uint16_t>(options_.prefetch));
      subscribe(*amqp, c);
      c.up = true;
      if (failures > 0) {
        log::write(log::Level::Info, "broker connection restored",
                   json{{"connection", c.link.role},
                        {"node", c.link.endpoints.node(c.link.endpoints.current())}});
      }
      failures = 0;
      while (!stopping_) {
        auto m = amqp->next(200);
        if (m) consumeBatch(*amqp, std::move(*m));
      }
    } catch (const AmqpError& e) {
      c.up = false;
      ++failures;
      const bool config = dynamic_cast<const TopologyError*>(&e) != nullptr;
      lost(c.link, e.what());
      if (!stopping_) {
        log::write(config ? log::Level::Error : log::Level::Warn,
                   config ? "broker topology does not match the configuration"
                          : "broker unavailable; reconnecting",
                   json{{"error", e.what()}, {"failures", failures}});
      }
    }
    if (amqp) amqp->close();
    const int waitMs = backoffMs(failures);
    std::unique_lock<std::mutex> lock(sleepMu);
    for (int waited = 0; waited < waitMs && !stopping_; waited += 100) {
      sleepCv.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  c.up = false;
  setNode(c.link, -1);
}

// Hands the batch to the host until it is committed. While the host cannot commit (the store is
// down), the messages stay here: handing them back to the broker would count a delivery against
// a quorum queue's limit on every try. The wait keeps reading the connection (heartbeats) and adds
// what the broker still sends (at most the prefetch) to the batch, even past transport.max_batch:
// what waited for the store commits together once it is back.
std::vector<bool> RabbitTransport::commit(Amqp& amqp, std::vector<AmqpMessage>& batch,
                                          std::vector<Received>& received) {
  for (int failures = 1;; ++failures) {
    received = toReceived(batch);
    try {
      return inbound_->accept(received);
    } catch (const std::exception& e) {
      log::write(log::Level::Warn, "cannot store consumed messages; holding them and retrying",
                 json{{"messages", batch.size()}, {"error", e.what()}, {"failures", failures}});
    }
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(backoffMs(failures));
    while (!stopping_ && std::chrono::steady_clock::now() < until) {
      auto more = amqp.next(100);
      if (more) batch.push_back(std::move(*more));
    }
    // Not committed: closing the connection hands the messages back to the broker.
    if (stopping_) throw AmqpError("stopped with an uncommitted batch");
  }
}

// Group commit: what the broker has already sent (up to the prefetch, or transport.max_batch) is
// committed by the host in one transaction, then acked: one WAL flush instead of one per message.
// What is left stays buffered on the connection for the next batch.
void RabbitTransport::consumeBatch(Amqp& amqp, AmqpMessage first) {
  std::vector<AmqpMessage> batch;
  batch.push_back(std::move(first));
  const int most = options_.maxBatch > 0 ? options_.maxBatch : options_.prefetch;
  amqp.takeReady(batch, static_cast<size_t>(most));
  std::vector<Received> received;
  const std::vector<bool> committed = commit(amqp, batch, received);
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
