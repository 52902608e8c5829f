#include "admin/queries.hpp"

#include "store/message_rows.hpp"

#include <algorithm>
#include <cctype>

namespace plexus::admin::queries {
namespace {

using ll = long long;

std::string textOrEmpty(const Value& v) { return v.isNull() ? std::string() : v.asText(); }

// LIKE pattern matching `text` anywhere; '\' escapes the wildcards.
std::string containsPattern(const std::string& text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "%";
}

// The filter as parameters $1..$5 of kDeadLetterWhere; empty fields match everything.
std::vector<Value> filterParams(const DeadLetterFilter& f) {
  std::string reason = f.reason;
  std::transform(reason.begin(), reason.end(), reason.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return {f.type, f.handler, reason.empty() ? std::string() : containsPattern(reason),
          static_cast<ll>(f.sinceMs), static_cast<ll>(f.untilMs)};
}

// One constant statement per query: optional filters are "param empty OR match".
#define PLEXUS_DEAD_LETTER_WHERE                                                            \
  " WHERE (CAST($1 AS TEXT) = '' OR type = $1) AND (CAST($2 AS TEXT) = '' OR handler = $2)" \
  " AND (CAST($3 AS TEXT) = '' OR LOWER(reason) LIKE $3 ESCAPE '\\')"                       \
  " AND last_failed_at >= $4 AND last_failed_at <= $5"

// The event columns in the order eventFrom() reads them.
#define PLEXUS_EVENT_COLUMNS                                                                  \
  "version, created_at, message_id, type, stream_id, payload, correlation_id, causation_id, " \
  "source, traceparent, content_type, occurred_at"

EventRow eventFrom(const Row& r) {
  EventRow e;
  e.version = r[0].asInt();
  e.createdAtMs = r[1].asInt();
  Message& m = e.message;
  m.kind = "event";
  m.id = textOrEmpty(r[2]);
  m.type = textOrEmpty(r[3]);
  m.stream = textOrEmpty(r[4]);
  m.payload = textOrEmpty(r[5]);
  m.correlation = textOrEmpty(r[6]);
  m.causation = textOrEmpty(r[7]);
  m.source = textOrEmpty(r[8]);
  m.traceparent = textOrEmpty(r[9]);
  m.contentType = textOrEmpty(r[10]);
  m.timestampMs = r[11].isNull() ? 0 : r[11].asInt();
  return e;
}

std::string selectDeadLetters() {
  return std::string("SELECT id, handler, reason, attempts, first_failed_at, last_failed_at, ") +
         store::kMessageColumns + " FROM plexus_dead_letters";
}

DeadLetterRow deadLetterRow(const Row& r) {
  DeadLetterRow d;
  d.id = r[0].asText();
  d.handler = r[1].asText();
  d.reason = r[2].asText();
  d.attempts = r[3].asInt();
  d.firstFailedAt = r[4].asInt();
  d.lastFailedAt = r[5].asInt();
  d.message = store::messageFrom(r, 6);
  return d;
}

}  // namespace

std::vector<DeadLetterRow> deadLetters(store::Transaction& tx, const DeadLetterFilter& f,
                                       const DeadLetterCursor& after, int limit) {
  static const std::string kSql = selectDeadLetters() + PLEXUS_DEAD_LETTER_WHERE
                                  " AND (last_failed_at < $6 OR (last_failed_at = $6 AND id < $7))"
                                  " ORDER BY last_failed_at DESC, id DESC LIMIT $8";
  std::vector<Value> params = filterParams(f);
  params.emplace_back(static_cast<ll>(after.lastFailedAtMs));
  params.emplace_back(after.id);
  params.emplace_back(limit);
  std::vector<DeadLetterRow> out;
  for (const Row& r : tx.query(kSql, params)) out.push_back(deadLetterRow(r));
  return out;
}

int64_t countDeadLetters(store::Transaction& tx, const DeadLetterFilter& f) {
  const Rows rows = tx.query("SELECT COUNT(*) FROM plexus_dead_letters" PLEXUS_DEAD_LETTER_WHERE,
                             filterParams(f));
  return rows.empty() ? 0 : rows[0][0].asInt();
}

std::optional<DeadLetterRow> deadLetter(store::Transaction& tx, const std::string& id) {
  static const std::string kSql = selectDeadLetters() + " WHERE id = $1";
  const Rows rows = tx.query(kSql, {id});
  if (rows.empty()) return std::nullopt;
  return deadLetterRow(rows[0]);
}

std::vector<EventRow> streamEvents(store::Transaction& tx, const std::string& stream,
                                   int64_t afterVersion, int limit) {
  const Rows rows = tx.query("SELECT " PLEXUS_EVENT_COLUMNS
                             " FROM plexus_events WHERE stream_id = $1 AND version > $2 "
                             "ORDER BY version LIMIT $3",
                             {stream, static_cast<ll>(afterVersion), limit});
  std::vector<EventRow> out;
  for (const Row& r : rows) out.push_back(eventFrom(r));
  return out;
}

std::optional<MessageRow> message(store::Transaction& tx, const std::string& id) {
  const Rows events =
      tx.query("SELECT " PLEXUS_EVENT_COLUMNS " FROM plexus_events WHERE message_id = $1", {id});
  if (!events.empty()) {
    EventRow e = eventFrom(events[0]);
    return MessageRow{e.version, e.createdAtMs, std::move(e.message)};
  }
  // Still waiting in the outbox, or kept after publication (transport.keep_published_hours).
  static const std::string kSent =
      std::string("SELECT created_at, ") + store::kMessageColumns +
      " FROM plexus_outbox WHERE message_id = $1 AND kind <> 'dead-letter' UNION ALL SELECT "
      "created_at, " +
      store::kMessageColumns +
      " FROM plexus_published WHERE message_id = $1 AND kind <> 'dead-letter'";
  const Rows sent = tx.query(kSent, {id});
  if (sent.empty()) return std::nullopt;
  return MessageRow{0, sent[0][0].asInt(), store::messageFrom(sent[0], 1)};
}

std::vector<MessageRow> correlated(store::Transaction& tx, const std::string& correlation,
                                   int limit) {
  std::vector<MessageRow> out;
  for (const Row& r : tx.query("SELECT " PLEXUS_EVENT_COLUMNS
                               " FROM plexus_events WHERE correlation_id = $1 ORDER BY created_at, "
                               "version LIMIT $2",
                               {correlation, limit})) {
    EventRow e = eventFrom(r);
    out.push_back(MessageRow{e.version, e.createdAtMs, std::move(e.message)});
  }
  static const std::string kCommands =
      std::string("SELECT created_at, ") + store::kMessageColumns +
      " FROM plexus_outbox WHERE correlation_id = $1 AND kind = 'command' UNION ALL SELECT "
      "created_at, " +
      store::kMessageColumns +
      " FROM plexus_published WHERE correlation_id = $1 AND kind = 'command' LIMIT $2";
  for (const Row& r : tx.query(kCommands, {correlation, limit}))
    out.push_back(MessageRow{0, r[0].asInt(), store::messageFrom(r, 1)});
  std::stable_sort(out.begin(), out.end(), [](const MessageRow& a, const MessageRow& b) {
    return a.createdAtMs < b.createdAtMs;
  });
  if (out.size() > static_cast<size_t>(limit)) out.resize(static_cast<size_t>(limit));
  return out;
}

std::vector<MigrationRow> migrations(store::Transaction& tx) {
  std::vector<MigrationRow> out;
  for (const Row& r : tx.query(
           "SELECT owner, version, name, applied_at FROM plexus_migrations ORDER BY owner, version",
           {})) {
    out.push_back(MigrationRow{r[0].asText(), r[1].asInt(), r[2].asText(), r[3].asInt()});
  }
  return out;
}

}  // namespace plexus::admin::queries
