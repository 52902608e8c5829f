#include "store/event_store.hpp"

namespace plexus::store::event_store {
namespace {
std::string text(const Value& v) { return v.isNull() ? std::string() : v.asText(); }
}  // namespace

void append(Transaction& tx, const Message& e, int64_t nowMs, bool deferred) {
  static const std::string kAppend =
      "INSERT INTO plexus_events (stream_id, version, message_id, type, payload, created_at, "
      "correlation_id, causation_id, source, traceparent, content_type, occurred_at) "
      "SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 "
      "FROM plexus_events WHERE stream_id = $1";
  const std::vector<Value> row{e.stream,
                               e.id,
                               e.type,
                               e.payload,
                               static_cast<long long>(nowMs),
                               e.correlation,
                               e.causation,
                               e.source,
                               e.traceparent,
                               e.contentType,
                               static_cast<long long>(e.timestampMs)};
  if (deferred) {
    tx.defer(kAppend, row);
    return;
  }
  try {
    tx.exec(kAppend, row);
  } catch (const SqlError& err) {
    // Another writer appended to the stream first: optimistic concurrency, try again.
    throw SqlError("event stream " + e.stream + " moved on: " + err.what(), true);
  }
}

Message eventFrom(const Row& r, size_t i) {
  Message m;
  m.kind = "event";
  m.id = text(r[i]);
  m.type = text(r[i + 1]);
  m.payload = text(r[i + 2]);
  m.correlation = text(r[i + 3]);
  m.causation = text(r[i + 4]);
  m.source = text(r[i + 5]);
  m.traceparent = text(r[i + 6]);
  m.contentType = text(r[i + 7]);
  m.timestampMs = r[i + 8].isNull() ? 0 : r[i + 8].asInt();
  return m;
}

std::vector<StoredEvent> read(Transaction& tx, const std::string& stream, int64_t afterVersion,
                              int limit) {
  const Rows rows = tx.query(
      "SELECT version, created_at, message_id, type, payload, correlation_id, causation_id, "
      "source, traceparent, content_type, occurred_at FROM plexus_events WHERE stream_id = $1 "
      "AND version > $2 ORDER BY version LIMIT $3",
      {stream, static_cast<long long>(afterVersion), limit});
  std::vector<StoredEvent> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    StoredEvent s;
    s.version = r[0].asInt();
    s.recordedAt = r[1].asInt();
    s.message = eventFrom(r, 2);
    s.message.stream = stream;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace plexus::store::event_store
