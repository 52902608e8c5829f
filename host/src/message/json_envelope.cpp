#include "message/json_envelope.hpp"

#include <nlohmann/json.hpp>

#include <ctime>
#include <plexus/sdk/rfc3339.hpp>

namespace plexus {

std::string encodeJsonEnvelope(const Message& e) {
  nlohmann::json j{{"v", 1},
                   {"id", e.id},
                   {"kind", e.kind},
                   {"type", e.type},
                   {"stream", e.stream},
                   {"correlation", e.correlation},
                   {"causation", e.causation},
                   {"timestamp", rfc3339::format(e.timestampMs)},
                   {"timestampMs", e.timestampMs},
                   {"source", {{"service", e.source}, {"instance", e.sourceInstance}}},
                   {"traceparent", e.traceparent},
                   {"attempt", e.attempt}};
  j["payload"] = nlohmann::json::parse(e.payload, nullptr, false);
  if (j["payload"].is_discarded()) j["payload"] = nullptr;
  return j.dump();
}

std::optional<Message> decodeJsonEnvelope(const std::string& text, std::string& error) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) {
    error = "envelope is not a JSON object";
    return std::nullopt;
  }
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Message e;
  e.id = str("id");
  e.type = str("type");
  if (e.id.empty() || e.type.empty()) {
    error = "envelope lacks id or type";
    return std::nullopt;
  }
  auto v = j.find("v");
  // Compared as 64-bit (unsigned when the number is): get<int>() wrapped 2^32+1 around to 1.
  const bool tooNew =
      v != j.end() && v->is_number_integer() &&
      (v->is_number_unsigned() ? v->get<uint64_t>() > uint64_t{101} : v->get<int64_t>() > 1 + 100);
  if (tooNew) {
    error = "envelope version " + v->dump() + " is not understood";
    return std::nullopt;
  }
  e.kind = str("kind");
  e.stream = str("stream");
  e.correlation = str("correlation");
  e.causation = str("causation");
  e.traceparent = str("traceparent");
  auto ts = j.find("timestampMs");
  if (ts != j.end() && ts->is_number_integer()) e.timestampMs = ts->get<int64_t>();
  auto src = j.find("source");
  if (src != j.end() && src->is_object()) {
    // Not value(): it throws on a non-string, and a throwing decode made the consumer requeue
    // the message forever instead of dead-lettering it (found by tests/fuzz, envelope target).
    auto field = [&](const char* key) -> std::string {
      auto it = src->find(key);
      return it != src->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    e.source = field("service");
    e.sourceInstance = field("instance");
  }
  auto at = j.find("attempt");
  if (at != j.end() && at->is_number_unsigned()) e.attempt = at->get<uint32_t>();
  auto p = j.find("payload");
  e.payload = p == j.end() ? "null" : p->dump();
  return e;
}

}  // namespace plexus
