#include "store/event_store.hpp"

#include "store/message_rows.hpp"

#include <algorithm>
#include <map>

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

void appendBatch(Transaction& tx, const std::vector<Message>& events, int64_t nowMs) {
  constexpr size_t kColumns = 12;  // per event: the VALUES row below
  constexpr size_t kRowsPerStatement = 500;
  std::map<std::string, int64_t> ordinal;  // per stream: 1, 2, ... in batch order
  for (size_t from = 0; from < events.size(); from += kRowsPerStatement) {
    const size_t n = std::min(kRowsPerStatement, events.size() - from);
    std::vector<Value> params;
    params.reserve(n * kColumns);
    for (size_t i = from; i < from + n; ++i) {
      const Message& e = events[i];
      params.emplace_back(e.stream);
      params.emplace_back(static_cast<long long>(++ordinal[e.stream]));
      params.emplace_back(e.id);
      params.emplace_back(e.type);
      params.emplace_back(e.payload);
      params.emplace_back(static_cast<long long>(nowMs));
      params.emplace_back(e.correlation);
      params.emplace_back(e.causation);
      params.emplace_back(e.source);
      params.emplace_back(e.traceparent);
      params.emplace_back(e.contentType);
      params.emplace_back(static_cast<long long>(e.timestampMs));
    }
    // VALUES columns are text until cast (libpq sends untyped text; SQLite names them alike).
    tx.defer(std::string(
                 "INSERT INTO plexus_events (stream_id, version, message_id, type, payload, "
                 "created_at, correlation_id, causation_id, source, traceparent, content_type, "
                 "occurred_at) SELECT v.column1, COALESCE((SELECT MAX(e.version) FROM "
                 "plexus_events e WHERE e.stream_id = v.column1), 0) + CAST(v.column2 AS BIGINT), "
                 "v.column3, v.column4, v.column5, CAST(v.column6 AS BIGINT), v.column7, "
                 "v.column8, v.column9, v.column10, v.column11, CAST(v.column12 AS BIGINT) FROM "
                 "(VALUES ") +
                 placeholderRows(n, kColumns) + ") AS v",
             params);
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
