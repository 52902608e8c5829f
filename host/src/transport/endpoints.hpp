#pragma once
// The broker nodes of transport.urls, and which one a connection tries next. Each connection
// starts at a node of its own (a host's connections spread over the cluster), stays on the node it
// reached, and after a failure starts again at the node after the one that failed: a dead node is
// tried last, not first.

#include <cstddef>
#include <string>
#include <vector>

namespace plexus::transport {

// "host:port" of an AMQP URL: no scheme, credentials or vhost (what logs, readiness and metrics
// show). The port defaults to 5672 (amqp://) or 5671 (amqps://).
std::string nodeOf(const std::string& url);

class Endpoints {
 public:
  // `start`: the node tried first (taken modulo the number of nodes).
  Endpoints(std::vector<std::string> urls, size_t start);

  size_t size() const { return urls_.size(); }
  const std::string& url(size_t i) const { return urls_[i]; }
  const std::string& node(size_t i) const { return nodes_[i]; }
  const std::vector<std::string>& nodes() const { return nodes_; }

  size_t current() const { return current_; }
  // Every node once, the current one first.
  std::vector<size_t> order() const;
  // Node i failed: the next round starts at the node after it.
  void failed(size_t i);
  // Node i answered: the next round starts there again.
  void reached(size_t i) { current_ = i; }

 private:
  std::vector<std::string> urls_;
  std::vector<std::string> nodes_;
  size_t current_ = 0;
};

}  // namespace plexus::transport
