#include "store/message_rows.hpp"

namespace plexus::store {
namespace {
std::string text(const Value& v) { return v.isNull() ? std::string() : v.asText(); }
}  // namespace

const char* const kMessageColumns =
    "message_id, kind, type, stream_id, correlation_id, causation_id, source, source_instance, "
    "traceparent, tracestate, content_type, occurred_at, payload";

void appendMessage(std::vector<Value>& p, const Message& m) {
  p.emplace_back(m.id);
  p.emplace_back(m.kind);
  p.emplace_back(m.type);
  p.emplace_back(m.stream);
  p.emplace_back(m.correlation);
  p.emplace_back(m.causation);
  p.emplace_back(m.source);
  p.emplace_back(m.sourceInstance);
  p.emplace_back(m.traceparent);
  p.emplace_back(m.tracestate);
  p.emplace_back(m.contentType);
  p.emplace_back(static_cast<long long>(m.timestampMs));
  p.emplace_back(m.payload);
}

Message messageFrom(const Row& r, size_t i) {
  Message m;
  m.id = text(r[i]);
  m.kind = text(r[i + 1]);
  m.type = text(r[i + 2]);
  m.stream = text(r[i + 3]);
  m.correlation = text(r[i + 4]);
  m.causation = text(r[i + 5]);
  m.source = text(r[i + 6]);
  m.sourceInstance = text(r[i + 7]);
  m.traceparent = text(r[i + 8]);
  m.tracestate = text(r[i + 9]);
  m.contentType = text(r[i + 10]);
  m.timestampMs = r[i + 11].isNull() ? 0 : r[i + 11].asInt();
  m.payload = text(r[i + 12]);
  return m;
}

std::string placeholders(size_t from, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    out += (i == 0 ? "$" : ", $") + std::to_string(from + i);
  }
  return out;
}

std::string placeholderRows(size_t rows, size_t columns) {
  std::string out;
  for (size_t r = 0; r < rows; ++r) {
    out += (r == 0 ? "(" : ", (") + placeholders(1 + r * columns, columns) + ")";
  }
  return out;
}

}  // namespace plexus::store
