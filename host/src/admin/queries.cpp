#include "admin/queries.hpp"

#include <algorithm>
#include <cctype>

namespace plexus::admin::queries {
namespace {

using ll = long long;

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

#define PLEXUS_DEAD_LETTER_SELECT                                                        \
  "SELECT id, message_id, handler, type, stream_id, reason, attempts, first_failed_at, " \
  "last_failed_at, envelope FROM plexus_dead_letters"

DeadLetterRow deadLetterRow(const Row& r) {
  return DeadLetterRow{r[0].asText(), r[1].asText(), r[2].asText(), r[3].asText(), r[4].asText(),
                       r[5].asText(), r[6].asInt(),  r[7].asInt(),  r[8].asInt(),  r[9].asText()};
}

std::string textOrEmpty(const Value& v) { return v.isNull() ? std::string() : v.asText(); }

}  // namespace

std::vector<DeadLetterRow> deadLetters(store::Transaction& tx, const DeadLetterFilter& f,
                                       const DeadLetterCursor& after, int limit) {
  static const std::string kSql = PLEXUS_DEAD_LETTER_SELECT PLEXUS_DEAD_LETTER_WHERE
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
  const Rows rows = tx.query(PLEXUS_DEAD_LETTER_SELECT " WHERE id = $1", {id});
  if (rows.empty()) return std::nullopt;
  return deadLetterRow(rows[0]);
}

std::vector<EventRow> streamEvents(store::Transaction& tx, const std::string& stream,
                                   int64_t afterVersion, int limit) {
  const Rows rows = tx.query(
      "SELECT e.version, e.message_id, e.type, e.payload, e.created_at, o.envelope "
      "FROM plexus_events e LEFT JOIN plexus_outbox o ON o.message_id = e.message_id "
      "WHERE e.stream_id = $1 AND e.version > $2 ORDER BY e.version LIMIT $3",
      {stream, static_cast<ll>(afterVersion), limit});
  std::vector<EventRow> out;
  for (const Row& r : rows) {
    out.push_back(EventRow{r[0].asInt(), r[1].asText(), r[2].asText(), r[3].asText(), r[4].asInt(),
                           textOrEmpty(r[5])});
  }
  return out;
}

std::optional<MessageRow> message(store::Transaction& tx, const std::string& id) {
  const Rows events = tx.query(
      "SELECT e.stream_id, e.version, e.type, e.payload, e.created_at, o.envelope "
      "FROM plexus_events e LEFT JOIN plexus_outbox o ON o.message_id = e.message_id "
      "WHERE e.message_id = $1",
      {id});
  if (!events.empty()) {
    const Row& r = events[0];
    return MessageRow{id,           "event",       r[2].asText(),     r[0].asText(),
                      r[1].asInt(), r[3].asText(), textOrEmpty(r[5]), r[4].asInt()};
  }
  const Rows outbox = tx.query(
      "SELECT kind, type, stream_id, envelope, created_at FROM plexus_outbox WHERE message_id = $1",
      {id});
  if (outbox.empty()) return std::nullopt;
  const Row& r = outbox[0];
  return MessageRow{id, r[0].asText(), r[1].asText(), r[2].asText(), 0,
                    "", r[3].asText(), r[4].asInt()};
}

std::vector<MessageRow> correlated(store::Transaction& tx, const std::string& correlation,
                                   int limit) {
  // The envelope is compact JSON (store::encode): the id appears as "correlation":"<id>".
  const Rows rows = tx.query(
      "SELECT message_id, kind, type, stream_id, envelope, created_at FROM plexus_outbox "
      "WHERE envelope LIKE $1 ESCAPE '\\' ORDER BY seq LIMIT $2",
      {containsPattern("\"correlation\":\"" + correlation + "\""), limit});
  std::vector<MessageRow> out;
  for (const Row& r : rows) {
    out.push_back(MessageRow{r[0].asText(), r[1].asText(), r[2].asText(), r[3].asText(), 0, "",
                             r[4].asText(), r[5].asInt()});
  }
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
