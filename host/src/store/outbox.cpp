#include "store/outbox.hpp"

#include "store/event_store.hpp"
#include "store/message_rows.hpp"

#include <algorithm>

namespace plexus::store {
namespace {

const std::string& insertSql() {
  static const std::string sql = std::string("INSERT INTO plexus_outbox (") + kMessageColumns +
                                 ", deliver_at, created_at) VALUES (" +
                                 placeholders(1, kMessageColumnCount + 2) + ")";
  return sql;
}

void insert(Transaction& tx, const Message& m, int64_t deliverAt, int64_t nowMs, bool deferred) {
  std::vector<Value> row;
  row.reserve(kMessageColumnCount + 2);
  appendMessage(row, m);
  row.emplace_back(static_cast<long long>(deliverAt));
  row.emplace_back(static_cast<long long>(nowMs));
  if (deferred) {
    tx.defer(insertSql(), row);
  } else {
    tx.exec(insertSql(), row);
  }
}

}  // namespace

void appendOutgoing(Transaction& tx, const std::vector<Outgoing>& messages, int64_t nowMs,
                    bool deferred) {
  for (const Outgoing& o : messages) {
    if (o.message.kind == "event") event_store::append(tx, o.message, nowMs, deferred);
    insert(tx, o.message, o.deliverAtMs > 0 ? o.deliverAtMs : nowMs, nowMs, deferred);
  }
}

namespace {
// Rows per multi-row statement: far below PostgreSQL's 65 535 parameters and SQLite's 32 766.
constexpr size_t kRowsPerStatement = 500;
}  // namespace

void appendOutgoingBatch(Transaction& tx, const std::vector<Outgoing>& messages, int64_t nowMs) {
  std::vector<Message> events;
  for (const Outgoing& o : messages) {
    if (o.message.kind == "event") events.push_back(o.message);
  }
  event_store::appendBatch(tx, events, nowMs);
  for (size_t from = 0; from < messages.size(); from += kRowsPerStatement) {
    const size_t n = std::min(kRowsPerStatement, messages.size() - from);
    std::vector<Value> params;
    params.reserve(n * (kMessageColumnCount + 2));
    for (size_t i = from; i < from + n; ++i) {
      appendMessage(params, messages[i].message);
      params.emplace_back(
          static_cast<long long>(messages[i].deliverAtMs > 0 ? messages[i].deliverAtMs : nowMs));
      params.emplace_back(static_cast<long long>(nowMs));
    }
    tx.defer(std::string("INSERT INTO plexus_outbox (") + kMessageColumns +
                 ", deliver_at, created_at) VALUES " + placeholderRows(n, kMessageColumnCount + 2),
             params);
  }
}

namespace outbox {

std::vector<Row> claimDue(Transaction& tx, const Dialect& dialect, int64_t nowMs, int limit) {
  const Rows rows = tx.query(
      std::string("SELECT seq, ") + kMessageColumns +
          " FROM plexus_outbox WHERE deliver_at <= $1 ORDER BY seq LIMIT $2" + dialect.skipLocked(),
      {static_cast<long long>(nowMs), limit});
  std::vector<Row> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(Row{r[0].asInt(), messageFrom(r, 1)});
  return out;
}

void remove(Transaction& tx, const std::vector<int64_t>& seqs) {
  if (seqs.empty()) return;
  // One statement for the whole batch instead of a round trip per row.
  std::vector<Value> params;
  params.reserve(seqs.size());
  for (int64_t s : seqs) params.emplace_back(static_cast<long long>(s));
  tx.exec("DELETE FROM plexus_outbox WHERE seq IN (" + placeholders(1, seqs.size()) + ")", params);
}

void archive(Transaction& tx, const std::vector<int64_t>& seqs, int64_t nowMs) {
  if (seqs.empty()) return;
  std::vector<Value> params{static_cast<long long>(nowMs)};
  params.reserve(seqs.size() + 1);
  for (int64_t s : seqs) params.emplace_back(static_cast<long long>(s));
  tx.exec(std::string("INSERT INTO plexus_published (seq, ") + kMessageColumns +
              ", deliver_at, created_at, published_at) SELECT seq, " + kMessageColumns +
              ", deliver_at, created_at, $1 FROM plexus_outbox WHERE seq IN (" +
              placeholders(2, seqs.size()) + ")",
          params);
}

int64_t purgeArchive(Transaction& tx, int64_t cutoffMs) {
  return tx.exec("DELETE FROM plexus_published WHERE published_at < $1",
                 {static_cast<long long>(cutoffMs)});
}

int64_t nextDueAt(Transaction& tx) {
  const Rows next = tx.query("SELECT MIN(deliver_at) FROM plexus_outbox", {});
  return (!next.empty() && !next[0][0].isNull()) ? next[0][0].asInt() : 0;
}

void appendDeadLetterCopy(Transaction& tx, const Message& failed, int64_t nowMs) {
  Message copy = failed;  // its own id: message ids are unique per kind (framework migration 4)
  copy.kind = "dead-letter";
  insert(tx, copy, nowMs, nowMs, false);
}

Backlog backlog(Transaction& tx, int64_t nowMs) {
  const Rows r =
      tx.query("SELECT COUNT(*), MIN(deliver_at) FROM plexus_outbox WHERE deliver_at <= $1",
               {static_cast<long long>(nowMs)});
  Backlog b;
  if (r.empty()) return b;
  b.pending = r[0][0].isNull() ? 0 : r[0][0].asInt();
  b.oldestDueAt = r[0][1].isNull() ? 0 : r[0][1].asInt();
  return b;
}

}  // namespace outbox
}  // namespace plexus::store
