// Reference: raw rabbitmq-c, nothing of the host. One publisher connection sends N persistent
// messages with publisher confirms (waiting after every --batch, as the host's relay does per
// outbox batch), one consumer connection takes them with manual acks and the host's prefetch.
// Both run at once; the figure is N / (last ack - first publish).
//   --wire JSON   the AMQP message to send (properties, headers, body as `plexus-bench-dispatch
//                 --wire` prints the host's): the broker then does the same work per message
//   --size N      else: an N-byte body with only content_type and delivery_mode set
//   --ack each    one ack per message (the amqplib peer's flow); default: the host consumer's, one
//                 ack with `multiple` for the batch of deliveries that has arrived
//   --relay       two hops: the durable step with the database taken out. A relay takes the
//                 publisher's queue in batches as the consumer does, publishes one message per
//                 consumed one to a second queue on its own connection (confirm mode), waits for
//                 the confirms and only then acks the batch with one multiple ack (no outbox: the
//                 ack must wait for the confirms); the consumer takes the second queue. The
//                 figure then bounds any durable step through this broker.
#include "common.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <deque>
#include <exception>
#include <optional>
#include <thread>

namespace {

amqp_bytes_t bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

void check(amqp_rpc_reply_t r, const char* what) {
  if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error(std::string(what) + " failed");
}

struct Url {
  std::string host = "127.0.0.1", user = "guest", pass = "guest", vhost = "/";
  int port = 5672;
};

Url parse(const std::string& url) {
  amqp_connection_info info{};
  std::string copy = url;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(copy.data(), &info) != AMQP_STATUS_OK)
    throw std::invalid_argument("bad --url");
  std::string vhost = info.vhost;
  if (vhost.empty()) vhost = "/";  // "amqp://host:port/" names the default vhost, as in the host
  return Url{info.host, info.user, info.password, vhost, info.port};
}

amqp_connection_state_t connect(const Url& u) {
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t* s = amqp_tcp_socket_new(c);
  if (s == nullptr || amqp_socket_open(s, u.host.c_str(), u.port) != AMQP_STATUS_OK)
    throw std::runtime_error("cannot connect to " + u.host + ":" + std::to_string(u.port));
  check(amqp_login(c, u.vhost.c_str(), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, u.user.c_str(),
                   u.pass.c_str()),
        "login");
  amqp_channel_open(c, 1);
  check(amqp_get_rpc_reply(c), "channel.open");
  return c;
}

// The message every publish sends: the host's wire form (--wire) or a bare body (--size).
struct Wire {
  std::deque<std::string> text;  // keeps the bytes the properties point at (never moved)
  std::vector<amqp_table_entry_t> headers;
  amqp_basic_properties_t props{};
  std::string body;

  Wire() = default;
  Wire(const Wire&) = delete;  // props point into text and headers; a move keeps them in place
  Wire(Wire&&) = default;

  amqp_bytes_t keep(const std::string& s) {
    text.push_back(s);
    return bytes(text.back());
  }
};

Wire wireOf(const bench::Args& args) {
  Wire w;
  w.props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  w.props.delivery_mode = 2;
  if (!args.has("wire")) {
    w.props.content_type = w.keep("application/json");
    w.body.assign(static_cast<size_t>(args.num("size", 400)), 'x');
    return w;
  }
  const auto j = nlohmann::json::parse(args.str("wire"));
  w.body = j.at("body").get<std::string>();
  w.props.content_type = w.keep(j.at("content_type").get<std::string>());
  const std::pair<const char*, std::pair<amqp_flags_t, amqp_bytes_t*>> fields[] = {
      {"message_id", {AMQP_BASIC_MESSAGE_ID_FLAG, &w.props.message_id}},
      {"type", {AMQP_BASIC_TYPE_FLAG, &w.props.type}},
      {"correlation_id", {AMQP_BASIC_CORRELATION_ID_FLAG, &w.props.correlation_id}},
      {"app_id", {AMQP_BASIC_APP_ID_FLAG, &w.props.app_id}}};
  for (const auto& [name, field] : fields) {
    if (!j.contains(name)) continue;
    w.props._flags |= field.first;
    *field.second = w.keep(j.at(name).get<std::string>());
  }
  if (j.contains("timestamp")) {
    w.props._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    w.props.timestamp = j.at("timestamp").get<uint64_t>();
  }
  for (const auto& h : j.at("headers")) {
    amqp_table_entry_t e{};
    e.key = w.keep(h.at(0).get<std::string>());
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = w.keep(h.at(1).get<std::string>());
    w.headers.push_back(e);
  }
  if (!w.headers.empty()) {
    w.props._flags |= AMQP_BASIC_HEADERS_FLAG;
    w.props.headers.num_entries = static_cast<int>(w.headers.size());
    w.props.headers.entries = w.headers.data();
  }
  return w;
}

void closeConn(amqp_connection_state_t c) {
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
}

void declareFresh(amqp_connection_state_t c, const std::string& queue) {
  amqp_queue_delete(c, 1, bytes(queue), 0, 0);
  check(amqp_get_rpc_reply(c), "queue.delete");
  amqp_queue_declare(c, 1, bytes(queue), 0, 1, 0, 0, amqp_empty_table);
  check(amqp_get_rpc_reply(c), "queue.declare");
}

amqp_connection_state_t publisher(const Url& u) {
  amqp_connection_state_t c = connect(u);
  amqp_confirm_select(c, 1);
  check(amqp_get_rpc_reply(c), "confirm.select");
  return c;
}

amqp_connection_state_t consumer(const Url& u, const std::string& queue, long prefetch) {
  amqp_connection_state_t c = connect(u);
  amqp_basic_qos(c, 1, 0, static_cast<uint16_t>(prefetch), 0);
  check(amqp_get_rpc_reply(c), "basic.qos");
  amqp_basic_consume(c, 1, bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  check(amqp_get_rpc_reply(c), "basic.consume");
  return c;
}

void publish(amqp_connection_state_t c, const std::string& queue, const Wire& w) {
  if (amqp_basic_publish(c, 1, amqp_empty_bytes, bytes(queue), 0, 0, &w.props, bytes(w.body)) !=
      AMQP_STATUS_OK)
    throw std::runtime_error("publish to " + queue + " failed");
}

// Until the broker has confirmed all `published` messages (its acks may be "multiple").
void waitConfirms(amqp_connection_state_t c, uint64_t published, uint64_t& confirmed) {
  while (confirmed < published) {
    amqp_frame_t frame{};
    if (amqp_simple_wait_frame(c, &frame) != AMQP_STATUS_OK)
      throw std::runtime_error("waiting for confirms failed");
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) throw std::runtime_error("nack");
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      confirmed = std::max<uint64_t>(confirmed, ack->delivery_tag);
    }
  }
  amqp_maybe_release_buffers(c);
}

void publishAll(amqp_connection_state_t c, const std::string& queue, const Wire& w, long n,
                long batch) {
  uint64_t published = 0, confirmed = 0;
  for (long i = 0; i < n; ++i) {
    publish(c, queue, w);
    if (++published % static_cast<uint64_t>(batch) == 0 || i + 1 == n)
      waitConfirms(c, published, confirmed);
  }
}

struct Taken {
  long count = 0;
  uint64_t lastTag = 0;
};

// The host's consumer pattern: wait for one delivery, then take what else has already arrived
// (up to `max`) without waiting.
Taken takeBatch(amqp_connection_state_t c, const std::string& queue, long max) {
  Taken t;
  for (; t.count < max; ++t.count) {
    amqp_maybe_release_buffers(c);
    amqp_envelope_t env{};
    timeval tv{t.count == 0 ? 30 : 0, 0};
    const amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
    if (t.count > 0 && r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_TIMEOUT)
      break;  // nothing more has arrived
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
      throw std::runtime_error("consume from " + queue +
                               " failed (no delivery for 30 s, or the connection broke)");
    t.lastTag = env.delivery_tag;
    amqp_destroy_envelope(&env);
  }
  return t;
}

// Takes n messages, one ack per batch taken (with `multiple`; per message when perAck is 1);
// -> the time of the last ack.
double consumeAll(amqp_connection_state_t c, const std::string& queue, long n, long perAck,
                  long& acks) {
  for (long got = 0; got < n; ++acks) {
    const Taken t = takeBatch(c, queue, perAck);
    amqp_basic_ack(c, 1, t.lastTag, perAck > 1 ? 1 : 0);
    got += t.count;
  }
  return bench::nowSeconds();
}

// The relay hop: every batch taken from `from` is published to `to` on `out`, confirmed, and only
// then acked on `in` with one multiple ack; -> the number of batches.
long relayAll(amqp_connection_state_t in, amqp_connection_state_t out, const std::string& from,
              const std::string& to, const Wire& w, long n, long prefetch) {
  uint64_t published = 0, confirmed = 0;
  long batches = 0;
  for (long got = 0; got < n; ++batches) {
    const Taken t = takeBatch(in, from, prefetch);
    for (long i = 0; i < t.count; ++i) publish(out, to, w);
    published += static_cast<uint64_t>(t.count);
    waitConfirms(out, published, confirmed);
    amqp_basic_ack(in, 1, t.lastTag, 1);
    got += t.count;
  }
  return batches;
}

// A thread whose exception join() rethrows (the run then fails with its message).
class Worker {
 public:
  template <typename F>
  explicit Worker(F body)
      : thread_([this, body] {
          try {
            body();
          } catch (...) {
            error_ = std::current_exception();
          }
        }) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() {
    if (thread_.joinable()) thread_.detach();  // only when the run already failed: it exits
  }
  void join() {
    thread_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;  // before thread_: set by it
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  return bench::guarded([&] {
    const bench::Args args(argc, argv);
    const Url url = parse(args.str("url"));
    const long n = args.num("messages", 20000);
    const long batch = std::max(1L, args.num("batch", 100));
    const long prefetch = std::max(1L, args.num("prefetch", 64));
    const Wire wire = wireOf(args);
    const long perAck = args.str("ack", "batch") == "each" ? 1 : prefetch;
    const bool relay = args.has("relay");
    const std::string queue = args.str("queue", relay ? "bench.ref.relay" : "bench.ref");
    const std::string relayed = queue + ".relayed";
    const std::string last = relay ? relayed : queue;  // the queue the consumer takes

    amqp_connection_state_t pub = publisher(url);
    declareFresh(pub, queue);
    if (relay) declareFresh(pub, relayed);
    amqp_connection_state_t sub = consumer(url, last, prefetch);
    amqp_connection_state_t relayIn = relay ? consumer(url, queue, prefetch) : nullptr;
    amqp_connection_state_t relayOut = relay ? publisher(url) : nullptr;

    double lastAck = 0;
    long acks = 0, batches = 0;
    Worker sink([&] { lastAck = consumeAll(sub, last, n, perAck, acks); });
    std::optional<Worker> hop;
    if (relay)
      hop.emplace(
          [&] { batches = relayAll(relayIn, relayOut, queue, relayed, wire, n, prefetch); });
    const double start = bench::nowSeconds();
    publishAll(pub, queue, wire, n, batch);
    if (hop) hop->join();
    sink.join();
    const double seconds = lastAck - start;

    amqp_queue_delete(pub, 1, bytes(queue), 0, 0);
    if (relay) amqp_queue_delete(pub, 1, bytes(relayed), 0, 0);
    for (auto* c : {relayOut, relayIn, sub, pub})
      if (c != nullptr) closeConn(c);
    nlohmann::json out = {{"messages", n},
                          {"seconds", seconds},
                          {"msgs_per_s", static_cast<double>(n) / seconds},
                          {"size", wire.body.size()},
                          {"prefetch", prefetch},
                          {"batch", batch},
                          {"acks", acks},
                          {"headers", wire.headers.size()},
                          {"hops", relay ? 2 : 1}};
    if (relay) out["relay_batches"] = batches;  // consumed batches the relay moved
    bench::print(out);
  });
}
