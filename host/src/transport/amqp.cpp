#include "transport/amqp.hpp"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include <cstring>
#include <vector>

namespace plexus::transport {
namespace {

amqp_bytes_t bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}
std::string text(amqp_bytes_t b) {
  return b.len ? std::string(static_cast<const char*>(b.bytes), b.len) : std::string();
}

// Keeps the storage of an amqp_table_t alive for the duration of one call.
struct Table {
  explicit Table(const AmqpArgs& args) {
    keys.reserve(args.size());
    strings.reserve(args.size());
    for (const auto& [k, v] : args) {
      keys.push_back(k);
      amqp_table_entry_t e{};
      e.key = bytes(keys.back());
      if (std::holds_alternative<std::string>(v)) {
        strings.push_back(std::get<std::string>(v));
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = bytes(strings.back());
      } else if (std::holds_alternative<int64_t>(v)) {
        e.value.kind = AMQP_FIELD_KIND_I64;
        e.value.value.i64 = std::get<int64_t>(v);
      } else {
        e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
        e.value.value.boolean = std::get<bool>(v) ? 1 : 0;
      }
      entries.push_back(e);
    }
    table.num_entries = static_cast<int>(entries.size());
    table.entries = entries.empty() ? nullptr : entries.data();
  }
  std::vector<std::string> keys;
  std::vector<std::string> strings;
  std::vector<amqp_table_entry_t> entries;
  amqp_table_t table{};
};

std::string replyText(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "missing RPC reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return "connection closed by broker: " + std::to_string(m->reply_code) + " " +
               text(m->reply_text);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return "channel closed by broker: " + std::to_string(m->reply_code) + " " +
               text(m->reply_text);
      }
      return "broker error";
  }
  return "unknown reply";
}

// A header value as text (what AmqpProperties keeps); false for tables, arrays and void.
bool valueText(const amqp_field_value_t& v, std::string& out) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
      out = text(v.value.bytes);
      return true;
    case AMQP_FIELD_KIND_BOOLEAN:
      out = v.value.boolean ? "true" : "false";
      return true;
    case AMQP_FIELD_KIND_I8:
      out = std::to_string(v.value.i8);
      return true;
    case AMQP_FIELD_KIND_U8:
      out = std::to_string(v.value.u8);
      return true;
    case AMQP_FIELD_KIND_I16:
      out = std::to_string(v.value.i16);
      return true;
    case AMQP_FIELD_KIND_U16:
      out = std::to_string(v.value.u16);
      return true;
    case AMQP_FIELD_KIND_I32:
      out = std::to_string(v.value.i32);
      return true;
    case AMQP_FIELD_KIND_U32:
      out = std::to_string(v.value.u32);
      return true;
    case AMQP_FIELD_KIND_I64:
      out = std::to_string(v.value.i64);
      return true;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      out = std::to_string(v.value.u64);
      return true;
    default:
      return false;
  }
}

AmqpProperties propertiesOf(const amqp_basic_properties_t& p) {
  AmqpProperties out;
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) out.contentType = text(p.content_type);
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) out.messageId = text(p.message_id);
  if (p._flags & AMQP_BASIC_TYPE_FLAG) out.type = text(p.type);
  if (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) out.correlationId = text(p.correlation_id);
  if (p._flags & AMQP_BASIC_APP_ID_FLAG) out.appId = text(p.app_id);
  if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) out.timestamp = p.timestamp;
  out.persistent = (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) && p.delivery_mode == 2;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    out.headers.reserve(static_cast<size_t>(p.headers.num_entries));
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const amqp_table_entry_t& e = p.headers.entries[i];
      std::string value;
      if (valueText(e.value, value)) out.headers.emplace_back(text(e.key), std::move(value));
    }
  }
  return out;
}

}  // namespace

Amqp::Amqp(std::string url, AmqpTls tls) : url_(std::move(url)), tls_(std::move(tls)) {}
Amqp::~Amqp() { close(); }

void Amqp::check(const char* what) {
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    const std::string msg = std::string(what) + ": " + replyText(r);
    close();
    throw AmqpError(msg);
  }
}

// amqps://: a TLS socket with the configured trust and client key; verification is decided here,
// the handshake (and a refused certificate) happens in amqp_socket_open_noblock.
amqp_socket_t* Amqp::openTlsSocket() {
  amqp_socket_t* socket = amqp_ssl_socket_new(conn_);
  if (socket == nullptr) return nullptr;
  auto fail = [&](const std::string& what, int rc) {
    const std::string msg = "TLS: " + what + ": " + amqp_error_string2(rc);
    close();
    throw AmqpError(msg);
  };
  if (!tls_.caFile.empty()) {
    const int rc = amqp_ssl_socket_set_cacert(socket, tls_.caFile.c_str());
    if (rc != AMQP_STATUS_OK) fail("cannot load CA file " + tls_.caFile, rc);
  }
  if (!tls_.certFile.empty()) {
    const int rc = amqp_ssl_socket_set_key(socket, tls_.certFile.c_str(), tls_.keyFile.c_str());
    if (rc != AMQP_STATUS_OK) fail("cannot load client certificate " + tls_.certFile, rc);
  }
  amqp_ssl_socket_set_verify_peer(socket, tls_.verifyPeer ? 1 : 0);
  amqp_ssl_socket_set_verify_hostname(socket, tls_.verifyHostname ? 1 : 0);
  return socket;
}

void Amqp::open(int timeoutMs) {
  close();
  std::vector<char> buf(url_.begin(), url_.end());
  buf.push_back('\0');
  amqp_connection_info info{};
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK) throw AmqpError("malformed AMQP URL");
  // "amqp://host/" parses to an empty vhost; mean the default one.
  if (info.vhost == nullptr || info.vhost[0] == '\0') info.vhost = const_cast<char*>("/");
  conn_ = amqp_new_connection();
  // Bound every blocking step: a broker that stops answering must not hang the caller.
  const timeval limit{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
  amqp_set_handshake_timeout(conn_, &limit);
  amqp_set_rpc_timeout(conn_, &limit);
  amqp_socket_t* socket = info.ssl ? openTlsSocket() : amqp_tcp_socket_new(conn_);
  if (socket == nullptr) {
    close();
    throw AmqpError("cannot create a socket");
  }
  timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
  const int rc = amqp_socket_open_noblock(socket, info.host, info.port, &tv);
  if (rc != AMQP_STATUS_OK) {
    const std::string msg = std::string("cannot connect to ") + info.host + ":" +
                            std::to_string(info.port) + ": " + amqp_error_string2(rc);
    close();
    throw AmqpError(msg);
  }
  const amqp_rpc_reply_t login = amqp_login(conn_, info.vhost, 0, 131072, 30,
                                            AMQP_SASL_METHOD_PLAIN, info.user, info.password);
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    const std::string msg = "login failed: " + replyText(login);
    close();
    throw AmqpError(msg);
  }
  amqp_channel_open(conn_, 1);
  check("channel.open");
  published_ = confirmed_ = 0;
}

void Amqp::close() noexcept {
  if (conn_ == nullptr) return;
  amqp_connection_state_t c = conn_;
  conn_ = nullptr;
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
}

void Amqp::declareExchange(const std::string& name, const std::string& type, const AmqpArgs& args) {
  Table t(args);
  amqp_exchange_declare(conn_, 1, bytes(name), bytes(type), 0, 1, 0, 0, t.table);
  check(("exchange.declare " + name).c_str());
}

void Amqp::declareQueue(const std::string& name, const AmqpArgs& args) {
  Table t(args);
  amqp_queue_declare(conn_, 1, bytes(name), 0, 1, 0, 0, t.table);
  check(("queue.declare " + name).c_str());
}

bool Amqp::queueExists(const std::string& name) {
  constexpr amqp_channel_t kProbe = 2;
  amqp_channel_open(conn_, kProbe);
  check("channel.open (probe)");
  amqp_queue_declare(conn_, kProbe, bytes(name), 1, 0, 0, 0, amqp_empty_table);
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) {
    amqp_channel_close(conn_, kProbe, AMQP_REPLY_SUCCESS);
    check("channel.close (probe)");
    return true;
  }
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
      static_cast<amqp_channel_close_t*>(r.reply.decoded)->reply_code == AMQP_NOT_FOUND) {
    amqp_channel_close_ok_t ok{};
    if (amqp_send_method(conn_, kProbe, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) == AMQP_STATUS_OK) {
      return false;
    }
  }
  const std::string msg = "queue.declare (passive) " + name + ": " + replyText(r);
  close();
  throw AmqpError(msg);
}

uint32_t Amqp::messageCount(const std::string& queue) {
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(conn_, 1, bytes(queue), 1, 0, 0, 0, amqp_empty_table);
  check(("queue.declare (passive) " + queue).c_str());  // closes on error
  return ok != nullptr ? ok->message_count : 0;
}

void Amqp::deleteQueue(const std::string& queue) {
  amqp_queue_delete(conn_, 1, bytes(queue), 0, 0);
  check(("queue.delete " + queue).c_str());
}

void Amqp::bindQueue(const std::string& queue, const std::string& exchange,
                     const std::string& key) {
  amqp_queue_bind(conn_, 1, bytes(queue), bytes(exchange), bytes(key), amqp_empty_table);
  check(("queue.bind " + queue).c_str());
}

void Amqp::bindExchange(const std::string& destination, const std::string& source,
                        const std::string& key) {
  amqp_exchange_bind(conn_, 1, bytes(destination), bytes(source), bytes(key), amqp_empty_table);
  check(("exchange.bind " + destination).c_str());
}

void Amqp::confirmSelect() {
  amqp_confirm_select(conn_, 1);
  check("confirm.select");
}

void Amqp::publish(const std::string& exchange, const std::string& key, const AmqpProperties& p,
                   const std::string& body) {
  if (conn_ == nullptr) throw AmqpError("not connected");
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = p.persistent ? 2 : 1;
  auto set = [&](const std::string& value, amqp_flags_t flag, amqp_bytes_t& field) {
    if (value.empty()) return;
    props._flags |= flag;
    field = bytes(value);
  };
  set(p.contentType, AMQP_BASIC_CONTENT_TYPE_FLAG, props.content_type);
  set(p.messageId, AMQP_BASIC_MESSAGE_ID_FLAG, props.message_id);
  set(p.type, AMQP_BASIC_TYPE_FLAG, props.type);
  set(p.correlationId, AMQP_BASIC_CORRELATION_ID_FLAG, props.correlation_id);
  set(p.appId, AMQP_BASIC_APP_ID_FLAG, props.app_id);
  if (p.timestamp != 0) {
    props._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    props.timestamp = p.timestamp;
  }
  std::vector<amqp_table_entry_t> entries(p.headers.size());
  for (size_t i = 0; i < p.headers.size(); ++i) {
    entries[i].key = bytes(p.headers[i].first);
    entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[i].value.value.bytes = bytes(p.headers[i].second);
  }
  if (!entries.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers.num_entries = static_cast<int>(entries.size());
    props.headers.entries = entries.data();
  }
  const int rc =
      amqp_basic_publish(conn_, 1, bytes(exchange), bytes(key), 0, 0, &props, bytes(body));
  if (rc != AMQP_STATUS_OK) {
    const std::string msg = std::string("publish failed: ") + amqp_error_string2(rc);
    close();
    throw AmqpError(msg);
  }
  ++published_;
}

void Amqp::waitForConfirms(int timeoutMs) {
  while (confirmed_ < published_) {
    amqp_frame_t frame{};
    timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
    const int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) {
      close();
      throw AmqpError("no publisher confirm within " + std::to_string(timeoutMs) + " ms");
    }
    if (rc != AMQP_STATUS_OK) {
      const std::string msg = std::string("waiting for confirms: ") + amqp_error_string2(rc);
      close();
      throw AmqpError(msg);
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        confirmed_ = ack->delivery_tag > confirmed_ ? ack->delivery_tag : confirmed_;
        break;
      }
      case AMQP_BASIC_NACK_METHOD:
        close();
        throw AmqpError("broker refused (nack) a published message");
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        close();
        throw AmqpError("broker closed the channel while confirming");
      default:
        break;
    }
  }
  amqp_maybe_release_buffers(conn_);
}

void Amqp::qos(uint16_t prefetch) {
  amqp_basic_qos(conn_, 1, 0, prefetch, 0);
  check("basic.qos");
}

void Amqp::consume(const std::string& queue) {
  amqp_basic_consume(conn_, 1, bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  check(("basic.consume " + queue).c_str());
}

std::optional<AmqpMessage> Amqp::next(int timeoutMs) {
  if (conn_ == nullptr) throw AmqpError("not connected");
  amqp_maybe_release_buffers(conn_);
  amqp_envelope_t env{};
  timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
  const amqp_rpc_reply_t r = amqp_consume_message(conn_, &env, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
    return std::nullopt;
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    const std::string msg = "consume: " + replyText(r);
    close();
    throw AmqpError(msg);
  }
  AmqpMessage m;
  m.deliveryTag = env.delivery_tag;
  m.redelivered = env.redelivered != 0;
  m.exchange = text(env.exchange);
  m.routingKey = text(env.routing_key);
  m.body = text(env.message.body);
  m.properties = propertiesOf(env.message.properties);
  amqp_destroy_envelope(&env);
  return m;
}

void Amqp::takeReady(std::vector<AmqpMessage>& batch, size_t max) {
  while (batch.size() < max) {
    auto m = next(0);
    if (!m) return;
    batch.push_back(std::move(*m));
  }
}

void Amqp::ack(uint64_t deliveryTag, bool multiple) {
  if (amqp_basic_ack(conn_, 1, deliveryTag, multiple ? 1 : 0) != AMQP_STATUS_OK) {
    close();
    throw AmqpError("ack failed");
  }
}

void Amqp::reject(uint64_t deliveryTag, bool requeue) {
  if (amqp_basic_reject(conn_, 1, deliveryTag, requeue ? 1 : 0) != AMQP_STATUS_OK) {
    close();
    throw AmqpError("reject failed");
  }
}

}  // namespace plexus::transport
