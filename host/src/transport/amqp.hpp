#pragma once
// A small, synchronous rabbitmq-c (0.11) client: one connection, one channel. Not thread-safe:
// each thread that talks to the broker owns its own Amqp object.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

struct amqp_connection_state_t_;
struct amqp_socket_t_;

namespace plexus::transport {

class AmqpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using AmqpArgs = std::map<std::string, std::variant<std::string, int64_t, bool>>;

// The AMQP basic properties Plexus reads and writes (DESIGN.md §3, "Wire format"). Headers are
// kept as text: numbers, booleans and timestamps that other clients send arrive as their decimal
// or "true"/"false" text; tables and arrays are skipped.
struct AmqpProperties {
  std::string contentType;
  std::string messageId;
  std::string type;
  std::string correlationId;
  std::string appId;
  uint64_t timestamp = 0;  // seconds since the epoch; 0 = not set
  bool persistent = true;
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of header `name`, or null.
  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

struct AmqpMessage {
  uint64_t deliveryTag = 0;
  bool redelivered = false;
  std::string exchange;  // where the publisher sent it
  std::string routingKey;
  std::string body;
  AmqpProperties properties;
};

// TLS for amqps:// URLs. Empty caFile = OpenSSL's default trust store; certFile + keyFile = a
// client certificate. Peer and hostname verification stay on unless turned off explicitly.
struct AmqpTls {
  std::string caFile;
  std::string certFile;
  std::string keyFile;
  bool verifyPeer = true;
  bool verifyHostname = true;
};

class Amqp {
 public:
  explicit Amqp(std::string url, AmqpTls tls = {});
  ~Amqp();
  Amqp(const Amqp&) = delete;
  Amqp& operator=(const Amqp&) = delete;

  void open(int timeoutMs);  // connect, log in, open channel 1; throws AmqpError
  void close() noexcept;
  bool isOpen() const { return conn_ != nullptr; }

  void declareExchange(const std::string& name, const std::string& type, const AmqpArgs& args = {});
  void declareQueue(const std::string& name, const AmqpArgs& args = {});
  // A passive declare on a channel of its own, so "no such queue" leaves channel 1 open.
  bool queueExists(const std::string& name);
  void bindQueue(const std::string& queue, const std::string& exchange, const std::string& key);
  // Messages ready in `queue` (a passive declare). A queue that does not exist throws AmqpError
  // and closes the connection (open() again).
  uint32_t messageCount(const std::string& queue);
  void deleteQueue(const std::string& queue);
  void bindExchange(const std::string& destination, const std::string& source,
                    const std::string& key);

  // Publisher confirms: enable once, publish, then wait until the broker confirmed them all.
  void confirmSelect();
  void publish(const std::string& exchange, const std::string& key,
               const AmqpProperties& properties, const std::string& body);
  void waitForConfirms(int timeoutMs);  // throws AmqpError on nack, timeout or channel error

  void qos(uint16_t prefetch);
  void consume(const std::string& queue);
  std::optional<AmqpMessage> next(int timeoutMs);  // nullopt on timeout
  // Appends the deliveries that have already arrived, waiting for none, until `batch` holds `max`
  // (the consumer's batch: what the broker sent within the prefetch, acked with one frame).
  void takeReady(std::vector<AmqpMessage>& batch, size_t max);
  // multiple: also every earlier unacked delivery of the channel (one frame for a batch).
  void ack(uint64_t deliveryTag, bool multiple = false);
  void reject(uint64_t deliveryTag, bool requeue);

 private:
  void check(const char* what);
  ::amqp_socket_t_* openTlsSocket();
  amqp_connection_state_t_* conn_ = nullptr;
  std::string url_;
  AmqpTls tls_;
  uint64_t published_ = 0;  // delivery tags handed out since confirmSelect
  uint64_t confirmed_ = 0;
};

}  // namespace plexus::transport
