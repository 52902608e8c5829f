#include "transport/cloudevents.hpp"

#include "message/json_envelope.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <plexus/sdk/rfc3339.hpp>

namespace plexus::transport {
namespace {

constexpr const char* kCommands = "plexus.commands";

// The attributes found in the headers, in one pass: each under any prefix the bindings use
// ("cloudEvents_", "cloudEvents:", "ce_"); null when absent.
struct Attributes {
  const std::string *specversion = nullptr, *id = nullptr, *type = nullptr, *source = nullptr,
                    *subject = nullptr, *time = nullptr, *datacontenttype = nullptr,
                    *correlationid = nullptr, *causationid = nullptr, *plexusinstance = nullptr,
                    *plexuskind = nullptr, *plexusattempt = nullptr, *traceparent = nullptr,
                    *tracestate = nullptr, *xstream = nullptr;
};

std::string_view attributeName(const std::string& key) {
  const std::string_view k(key);
  if (k.size() > 12 &&
      (k.compare(0, 12, "cloudEvents_") == 0 || k.compare(0, 12, "cloudEvents:") == 0))
    return k.substr(12);
  if (k.size() > 3 && k.compare(0, 3, "ce_") == 0) return k.substr(3);
  return {};
}

Attributes scan(const AmqpProperties& p) {
  Attributes a;
  for (const auto& [key, value] : p.headers) {
    const std::string_view n = attributeName(key);
    if (n.empty()) {
      if (key == "traceparent") a.traceparent = &value;
      if (key == "tracestate") a.tracestate = &value;
      if (key == "x-stream") a.xstream = &value;
      continue;
    }
    const std::pair<std::string_view, const std::string**> slots[] = {
        {"specversion", &a.specversion},
        {"id", &a.id},
        {"type", &a.type},
        {"source", &a.source},
        {"subject", &a.subject},
        {"time", &a.time},
        {"datacontenttype", &a.datacontenttype},
        {"correlationid", &a.correlationid},
        {"causationid", &a.causationid},
        {"plexusinstance", &a.plexusinstance},
        {"plexuskind", &a.plexuskind},
        {"plexusattempt", &a.plexusattempt}};
    for (const auto& [name, slot] : slots) {
      if (n == name) {
        *slot = &value;
        break;
      }
    }
  }
  return a;
}

// From the AMQP property when set, else the header.
std::string pick(const std::string& property, const std::string* header) {
  if (!property.empty()) return property;
  return header != nullptr ? *header : std::string();
}

bool isStructured(const std::string& contentType) {
  return contentType.rfind("application/cloudevents+json", 0) == 0;
}

// The 0.1 JSON envelope: no CloudEvents attribute anywhere, and a body that is one.
bool isLegacyEnvelope(const Attributes& a, const std::string& body) {
  return a.specversion == nullptr && body.size() > 2 && body.front() == '{' &&
         body.find("\"v\":") != std::string::npos && body.find("\"payload\":") != std::string::npos;
}

std::string missing(const char* attr, const char* where) {
  return std::string("missing required CloudEvents attribute '") + attr + "' (" + where + ")";
}

std::optional<Message> structured(const std::string& body, const std::string& exchange,
                                  std::string& error);

}  // namespace

AmqpProperties toAmqp(const Message& m) {
  AmqpProperties p;
  p.contentType = m.contentType;
  p.messageId = m.id;
  p.type = m.type;
  p.correlationId = m.correlation;
  p.appId = m.source;
  p.timestamp = m.timestampMs > 0 ? static_cast<uint64_t>(m.timestampMs / 1000) : 0;
  p.headers.reserve(12);
  p.headers.emplace_back("cloudEvents_specversion", "1.0");
  p.headers.emplace_back("cloudEvents_source", m.source);
  p.headers.emplace_back("cloudEvents_time", rfc3339::format(m.timestampMs));
  p.headers.emplace_back("cloudEvents_plexuskind",
                         m.kind == "dead-letter" ? std::string("event") : m.kind);
  if (!m.stream.empty()) p.headers.emplace_back("cloudEvents_subject", m.stream);
  if (!m.causation.empty()) p.headers.emplace_back("cloudEvents_causationid", m.causation);
  if (!m.sourceInstance.empty())
    p.headers.emplace_back("cloudEvents_plexusinstance", m.sourceInstance);
  if (m.attempt > 1) p.headers.emplace_back("cloudEvents_plexusattempt", std::to_string(m.attempt));
  if (!m.traceparent.empty()) p.headers.emplace_back("traceparent", m.traceparent);
  if (!m.tracestate.empty()) p.headers.emplace_back("tracestate", m.tracestate);
  // The consistent-hash exchange partitions on this header: one stream, one queue.
  p.headers.emplace_back("x-stream", m.stream);
  return p;
}

std::optional<Message> fromAmqp(const AmqpProperties& p, std::string& body,
                                const std::string& exchange, std::string& error) {
  if (isStructured(p.contentType)) return structured(body, exchange, error);
  const Attributes a = scan(p);
  if (isLegacyEnvelope(a, body)) return decodeJsonEnvelope(body, error);
  Message m;
  m.id = pick(p.messageId, a.id);
  if (m.id.empty()) {
    error = missing("id", "AMQP message_id or header cloudEvents_id");
    return std::nullopt;
  }
  m.type = pick(p.type, a.type);
  if (m.type.empty()) {
    error = missing("type", "AMQP type or header cloudEvents_type");
    return std::nullopt;
  }
  m.source = pick(p.appId, a.source);
  if (m.source.empty()) {
    error = missing("source", "AMQP app_id or header cloudEvents_source");
    return std::nullopt;
  }
  if (a.specversion == nullptr) {
    error = missing("specversion", "header cloudEvents_specversion");
    return std::nullopt;
  }
  if (a.specversion->rfind("1.", 0) != 0) {
    error = "CloudEvents specversion " + *a.specversion + " is not understood (1.x is)";
    return std::nullopt;
  }
  m.contentType = pick(p.contentType, a.datacontenttype);
  if (m.contentType.empty()) m.contentType = "application/json";
  if (a.time != nullptr) {
    const auto time = rfc3339::parse(*a.time);
    if (!time) {
      error = "CloudEvents attribute 'time' is not an RFC 3339 date-time: " + *a.time;
      return std::nullopt;
    }
    m.timestampMs = *time;
  } else {
    m.timestampMs = static_cast<int64_t>(p.timestamp) * 1000;
  }
  m.stream = pick(a.subject != nullptr ? *a.subject : std::string(), a.xstream);
  m.correlation = pick(p.correlationId, a.correlationid);
  if (a.causationid != nullptr) m.causation = *a.causationid;
  if (a.plexusinstance != nullptr) m.sourceInstance = *a.plexusinstance;
  if (a.plexuskind != nullptr) m.kind = *a.plexuskind;
  if (m.kind != "event" && m.kind != "command")
    m.kind = exchange == kCommands ? "command" : "event";
  if (a.plexusattempt != nullptr) {
    unsigned attempt = 1;
    std::from_chars(a.plexusattempt->data(), a.plexusattempt->data() + a.plexusattempt->size(),
                    attempt);
    m.attempt = attempt > 0 ? attempt : 1;
  }
  if (a.traceparent != nullptr) m.traceparent = *a.traceparent;
  if (a.tracestate != nullptr) m.tracestate = *a.tracestate;
  m.payload = std::move(body);
  return m;
}

Message salvage(const AmqpProperties& p, const std::string& exchange) {
  const Attributes a = scan(p);
  Message m;
  m.id = pick(p.messageId, a.id);
  m.type = pick(p.type, a.type);
  m.source = pick(p.appId, a.source);
  m.contentType = p.contentType;
  if (a.subject != nullptr) m.stream = *a.subject;
  m.kind = exchange == kCommands ? "command" : "event";
  return m;
}

namespace {

// Structured content mode: the event's attributes and data in one JSON document. The only place
// the host reads a body: it is the envelope here, not the payload.
std::optional<Message> structured(const std::string& body, const std::string& exchange,
                                  std::string& error) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) {
    error = "structured CloudEvent is not a JSON object";
    return std::nullopt;
  }
  auto str = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Message m;
  for (const char* required : {"specversion", "id", "type", "source"}) {
    if (str(required).empty()) {
      error = std::string("missing required CloudEvents attribute '") + required +
              "' (structured event)";
      return std::nullopt;
    }
  }
  m.id = str("id");
  m.type = str("type");
  m.source = str("source");
  m.stream = str("subject");
  m.correlation = str("correlationid");
  m.causation = str("causationid");
  m.traceparent = str("traceparent");
  m.tracestate = str("tracestate");
  m.sourceInstance = str("plexusinstance");
  m.kind = str("plexuskind");
  if (m.kind != "event" && m.kind != "command")
    m.kind = exchange == kCommands ? "command" : "event";
  m.contentType = str("datacontenttype");
  if (m.contentType.empty()) m.contentType = "application/json";
  const std::string time = str("time");
  if (!time.empty()) {
    const auto ms = rfc3339::parse(time);
    if (!ms) {
      error = "CloudEvents attribute 'time' is not an RFC 3339 date-time: " + time;
      return std::nullopt;
    }
    m.timestampMs = *ms;
  }
  auto data = j.find("data");
  m.payload = data == j.end()
                  ? "null"
                  : (data->is_string() && m.contentType.rfind("application/json", 0) != 0
                         ? data->get<std::string>()
                         : data->dump());
  return m;
}

}  // namespace
}  // namespace plexus::transport
