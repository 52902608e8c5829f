#include "rebuild/replay_responder.hpp"

#include "base/clock.hpp"
#include "observability/log.hpp"
#include "rebuild/local_source.hpp"
#include "rebuild/replay_protocol.hpp"
#include "store/message_rows.hpp"
#include "transport/amqp.hpp"
#include "transport/cloudevents.hpp"

#include <algorithm>
#include <chrono>

namespace plexus::rebuild {
namespace {

using nlohmann::json;
using store::placeholders;
using transport::Amqp;
using transport::AmqpError;
using transport::AmqpProperties;

constexpr int kConfirmTimeoutMs = 10000;

AmqpProperties control(const std::string& kind, const std::string& source) {
  AmqpProperties p;
  p.contentType = "application/json";
  p.type = "plexus.replay." + kind;
  p.appId = source;
  p.headers = {{replay::kKindHeader, kind}, {replay::kSourceHeader, source}};
  return p;
}

bool notFound(const AmqpError& e) {
  return std::string(e.what()).find("NOT_FOUND") != std::string::npos;
}

int64_t count(store::Store& store, const std::vector<std::string>& types) {
  std::vector<Value> params(types.begin(), types.end());
  auto tx = store.begin();
  const Rows r = tx->query(
      "SELECT COUNT(*) FROM plexus_events WHERE type IN (" + placeholders(1, types.size()) + ")",
      params);
  tx->commit();
  return r.empty() ? 0 : r[0][0].asInt();
}

}  // namespace

ReplayResponder::ReplayResponder(const config::Config& config, store::Store& store,
                                 const Clock& clock)
    : config_(config), store_(store), clock_(clock) {}

ReplayResponder::~ReplayResponder() { stop(); }

void ReplayResponder::start() {
  thread_ = std::thread([this] { loop(); });
}

void ReplayResponder::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void ReplayResponder::loop() {
  int failures = 0;
  while (!stopping_) {
    const auto& t = config_.transport;
    const transport::AmqpTls tls{t.tls.caFile, t.tls.certFile, t.tls.keyFile, t.tls.verifyPeer,
                                 t.tls.verifyHostname};
    Amqp consumer(t.url, tls), publisher(t.url, tls);
    try {
      serve(consumer, publisher);
      consumer_ = nullptr;
    } catch (const std::exception& e) {
      consumer_ = nullptr;
      // The request in hand goes back to the queue with the connection; another try answers it.
      ++failures;
      log::write(log::Level::Warn, "replay responder: broker or store unavailable; reconnecting",
                 json{{"error", e.what()}, {"failures", failures}});
    }
    consumer.close();
    publisher.close();
    const int waitMs = std::min(100 << std::min(failures, 6), 5000);
    for (int waited = 0; waited < waitMs && !stopping_; waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // reconnect backoff
    }
  }
}

void ReplayResponder::keepAlive() {
  // With one request unacked and a prefetch of 1 nothing is delivered: the call only lets
  // rabbitmq-c read and send heartbeats.
  if (consumer_ != nullptr && consumer_->next(0))
    throw AmqpError("a second request arrived while one is answered");
}

void ReplayResponder::serve(Amqp& consumer, Amqp& publisher) {
  const std::string queue = replay::requestQueue(config_.service);
  consumer_ = &consumer;
  consumer.open(5000);
  consumer.declareExchange(replay::kExchange, "fanout");
  // A request nobody answers in ten minutes is of no use (its rebuild gave up); a deployment
  // gone for a day takes its queue with it.
  consumer.declareQueue(queue,
                        {{"x-message-ttl", int64_t{600000}}, {"x-expires", int64_t{86400000}}});
  consumer.bindQueue(queue, replay::kExchange, "");
  consumer.qos(1);  // one request at a time; the others wait for this replica or another
  consumer.consume(queue);
  while (!stopping_) {
    auto request = consumer.next(200);
    if (!request) continue;
    if (!publisher.isOpen()) {
      publisher.open(5000);
      publisher.confirmSelect();
    }
    answer(publisher, *request);
    consumer.ack(request->deliveryTag);
  }
}

bool ReplayResponder::room(Amqp& publisher, const std::string& queue, int window) {
  for (;;) {
    if (stopping_) throw AmqpError("stopping");
    try {
      if (static_cast<int>(publisher.messageCount(queue)) < window) return true;
    } catch (const AmqpError& e) {
      if (notFound(e)) return false;
      throw;
    }
    keepAlive();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the requester drains it
  }
}

void ReplayResponder::answer(Amqp& publisher, const transport::AmqpMessage& message) {
  replay::Request r;
  if (!replay::Request::parse(message.body, r)) {
    log::write(log::Level::Warn, "replay responder: dropped a request it cannot read");
    return;
  }
  if ((r.expiresAt > 0 && clock_.nowMs() > r.expiresAt) || gone_.count(r.rebuild) > 0) return;
  const auto started = std::chrono::steady_clock::now();
  const std::string& source = config_.service;
  auto gone = [&] {
    gone_.insert(r.rebuild);
    log::write(log::Level::Info, "replay responder: the rebuild stopped listening; answer dropped",
               json{{"rebuild", r.rebuild}, {"requester", r.requester}});
    publisher.close();  // the passive declare of a missing queue closed its channel
  };
  if (!room(publisher, r.replyTo, r.window)) return gone();
  const int64_t total = count(store_, r.types);
  publisher.publish("", r.replyTo, control("begin", source),
                    json{{"source", source}, {"total", total}}.dump());
  LocalSource events(r.types, clock_);
  int64_t sent = 0;
  for (;;) {
    std::vector<Message> page;
    {
      auto tx = store_.begin();
      page = events.history(*tx, config_.rebuild.batch);
      tx->commit();
    }
    if (page.empty()) break;
    if (!room(publisher, r.replyTo, r.window)) return gone();
    keepAlive();
    for (const Message& m : page) {
      AmqpProperties p = transport::toAmqp(m);
      p.headers.emplace_back(replay::kKindHeader, "event");
      p.headers.emplace_back(replay::kSourceHeader, source);
      publisher.publish("", r.replyTo, p, m.payload);
    }
    publisher.waitForConfirms(kConfirmTimeoutMs);
    sent += static_cast<int64_t>(page.size());
  }
  publisher.publish("", r.replyTo, control("end", source),
                    json{{"source", source}, {"sent", sent}}.dump());
  publisher.waitForConfirms(kConfirmTimeoutMs);
  log::write(log::Level::Info, "replay answered",
             json{{"rebuild", r.rebuild},
                  {"requester", r.requester},
                  {"events", sent},
                  {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count()}});
}

}  // namespace plexus::rebuild
