// Reference: raw rabbitmq-c, nothing of the host. One publisher connection sends N persistent
// messages with publisher confirms (waiting after every --batch, as the host's relay does per
// outbox batch), one consumer connection takes them with manual acks and the host's prefetch.
// Both run at once; the figure is N / (last ack - first publish).
#include "common.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <atomic>
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

void closeConn(amqp_connection_state_t c) {
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
}

}  // namespace

int main(int argc, char** argv) {
  return bench::guarded([&] {
    const bench::Args args(argc, argv);
    const Url url = parse(args.str("url"));
    const long n = args.num("messages", 20000);
    const long batch = args.num("batch", 100);
    const long prefetch = args.num("prefetch", 64);
    const std::string body(static_cast<size_t>(args.num("size", 400)), 'x');
    const std::string queue = args.str("queue", "bench.ref");

    amqp_connection_state_t pub = connect(url);
    amqp_queue_delete(pub, 1, bytes(queue), 0, 0);
    check(amqp_get_rpc_reply(pub), "queue.delete");
    amqp_queue_declare(pub, 1, bytes(queue), 0, 1, 0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(pub), "queue.declare");
    amqp_confirm_select(pub, 1);
    check(amqp_get_rpc_reply(pub), "confirm.select");

    amqp_connection_state_t sub = connect(url);
    amqp_basic_qos(sub, 1, 0, static_cast<uint16_t>(prefetch), 0);
    check(amqp_get_rpc_reply(sub), "basic.qos");
    amqp_basic_consume(sub, 1, bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(sub), "basic.consume");

    std::atomic<long> consumed{0};
    double lastAck = 0;
    std::thread consumer([&] {
      while (consumed < n) {
        amqp_maybe_release_buffers(sub);
        amqp_envelope_t env{};
        timeval tv{30, 0};
        const amqp_rpc_reply_t r = amqp_consume_message(sub, &env, &tv, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
          std::cerr << "error: consume failed after " << consumed << " messages\n";
          std::exit(1);
        }
        amqp_basic_ack(sub, 1, env.delivery_tag, 0);
        amqp_destroy_envelope(&env);
        ++consumed;
      }
      lastAck = bench::nowSeconds();
    });

    const double start = bench::nowSeconds();
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 2;
    uint64_t published = 0, confirmed = 0;
    for (long i = 0; i < n; ++i) {
      if (amqp_basic_publish(pub, 1, amqp_empty_bytes, bytes(queue), 0, 0, &props, bytes(body)) !=
          AMQP_STATUS_OK)
        throw std::runtime_error("publish failed");
      ++published;
      if (published % static_cast<uint64_t>(batch) != 0 && i + 1 < n) continue;
      while (confirmed < published) {  // wait for the batch's confirms (acks may be "multiple")
        amqp_frame_t frame{};
        if (amqp_simple_wait_frame(pub, &frame) != AMQP_STATUS_OK)
          throw std::runtime_error("waiting for confirms failed");
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) throw std::runtime_error("nack");
        if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
          auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
          confirmed = std::max<uint64_t>(confirmed, ack->delivery_tag);
        }
      }
      amqp_maybe_release_buffers(pub);
    }
    consumer.join();
    const double seconds = lastAck - start;
    amqp_queue_delete(pub, 1, bytes(queue), 0, 0);
    closeConn(sub);
    closeConn(pub);
    bench::print({{"messages", n},
                  {"seconds", seconds},
                  {"msgs_per_s", static_cast<double>(n) / seconds},
                  {"size", body.size()},
                  {"prefetch", prefetch},
                  {"batch", batch}});
  });
}
