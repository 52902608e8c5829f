#pragma once
// Answers replay requests (rebuild/replay_protocol.hpp) from this deployment's event store: every
// serving host with a store and a broker runs one; the replicas of a deployment compete for its
// requests, so each request is answered once (again by another replica if this one dies mid-way:
// the requester's ledger drops what it already has).

#include "config/config.hpp"

#include <atomic>
#include <set>
#include <string>
#include <thread>

namespace plexus {
class Clock;
}
namespace plexus::store {
class Store;
}
namespace plexus::transport {
class Amqp;
struct AmqpMessage;
}  // namespace plexus::transport

namespace plexus::rebuild {

class ReplayResponder {
 public:
  ReplayResponder(const config::Config& config, store::Store& store, const Clock& clock);
  ~ReplayResponder();
  ReplayResponder(const ReplayResponder&) = delete;
  ReplayResponder& operator=(const ReplayResponder&) = delete;

  void start();
  void stop();

 private:
  void loop();
  void serve(transport::Amqp& consumer, transport::Amqp& publisher);
  void answer(transport::Amqp& publisher, const transport::AmqpMessage& request);
  // Waits until the reply queue has room; false when it is gone (the requester stopped).
  bool room(transport::Amqp& publisher, const std::string& queue, int window);
  // The consumer's connection holds the request (unacked) while it is answered: polled between
  // pages and while waiting, so its heartbeats go on (an answer can outlast the heartbeat
  // timeout, and the broker would then hand the request out again).
  void keepAlive();

  const config::Config& config_;
  store::Store& store_;
  const Clock& clock_;
  std::atomic<bool> stopping_{false};
  std::set<std::string> gone_;  // rebuilds whose reply queue vanished (the requester stopped)
  transport::Amqp* consumer_ = nullptr;  // during serve()
  std::thread thread_;
};

}  // namespace plexus::rebuild
