#include "store/deliveries.hpp"

#include "store/message_rows.hpp"

namespace plexus::store::deliveries {
namespace {

long long ll(int64_t v) { return static_cast<long long>(v); }

// ON CONFLICT: a broker redelivery of a message not yet handled is the same delivery.
const std::string& insertSql() {
  static const std::string sql =
      std::string("INSERT INTO plexus_deliveries (") + kMessageColumns +
      ", handler, attempt, due_at, last_error, first_failed_at) VALUES (" +
      placeholders(1, kMessageColumnCount + 5) + ") ON CONFLICT DO NOTHING";
  return sql;
}

std::vector<Value> insertRow(const Message& m, const std::string& handler, int64_t attempt,
                             int64_t dueAt, const Value& error, const Value& firstFailedAt) {
  std::vector<Value> row;
  row.reserve(kMessageColumnCount + 5);
  appendMessage(row, m);
  row.emplace_back(handler);
  row.emplace_back(ll(attempt));
  row.emplace_back(ll(dueAt));
  row.push_back(error);
  row.push_back(firstFailedAt);
  return row;
}

}  // namespace

void add(Transaction& tx, const Message& m, const std::string& handler, int64_t nowMs,
         bool deferred) {
  const auto row = insertRow(m, handler, 1, nowMs, Value(), Value());
  if (deferred) {
    tx.defer(insertSql(), row);
  } else {
    tx.exec(insertSql(), row);
  }
}

void addRetry(Transaction& tx, const Message& m, const std::string& handler, int64_t attempt,
              int64_t dueAt, const std::string& error, int64_t nowMs) {
  tx.exec(insertSql(), insertRow(m, handler, attempt, dueAt, Value(error), Value(ll(nowMs))));
}

std::vector<Delivery> head(Transaction& tx, int limit) {
  const Rows rows = tx.query(std::string("SELECT seq, handler, attempt, due_at, first_failed_at, "
                                         "claimed_by, claimed_until, ") +
                                 kMessageColumns + " FROM plexus_deliveries ORDER BY seq LIMIT $1",
                             {limit});
  std::vector<Delivery> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    Delivery d;
    d.seq = r[0].asInt();
    d.handler = r[1].asText();
    d.dueAt = r[3].asInt();
    d.firstFailedAt = r[4].isNull() ? 0 : r[4].asInt();
    d.claimedBy = r[5].isNull() ? std::string() : r[5].asText();
    d.claimedUntil = r[6].isNull() ? 0 : r[6].asInt();
    d.message = messageFrom(r, 7);
    d.message.attempt = static_cast<uint32_t>(r[2].asInt());
    out.push_back(std::move(d));
  }
  return out;
}

bool claim(Transaction& tx, int64_t seq, int64_t attempt, const std::string& instance,
           int64_t nowMs, int64_t leaseUntil) {
  // A delivery read before its previous attempt's failure was recorded is stale (older attempt,
  // backoff not yet due): it must not run.
  return tx.exec(
             "UPDATE plexus_deliveries SET claimed_by = $1, claimed_until = $2 WHERE seq = $3 "
             "AND attempt = $5 AND due_at <= $4 AND (claimed_by IS NULL OR claimed_by = $1 "
             "OR claimed_until < $4)",
             {instance, ll(leaseUntil), ll(seq), ll(nowMs), ll(attempt)}) == 1;
}

void remove(Transaction& tx, int64_t seq) {
  tx.exec("DELETE FROM plexus_deliveries WHERE seq = $1", {ll(seq)});
}

void reschedule(Transaction& tx, int64_t seq, int64_t dueAt, const std::string& error,
                int64_t nowMs) {
  tx.exec(
      "UPDATE plexus_deliveries SET attempt = attempt + 1, due_at = $1, last_error = $2, "
      "first_failed_at = COALESCE(first_failed_at, $3), claimed_by = NULL, claimed_until = NULL "
      "WHERE seq = $4",
      {ll(dueAt), error, ll(nowMs), ll(seq)});
}

std::set<StreamHandler> waitingAll(Transaction& tx, int scanLimit, bool& overflow) {
  const Rows rows =
      tx.query("SELECT stream_id, handler FROM plexus_deliveries LIMIT $1", {scanLimit + 1});
  std::set<StreamHandler> out;
  overflow = rows.size() > static_cast<size_t>(scanLimit);
  if (overflow) return out;
  for (const Row& r : rows) out.insert({r[0].asText(), r[1].asText()});
  return out;
}

bool waiting(Transaction& tx, const std::string& stream, const std::string& handler) {
  return !tx.query("SELECT 1 FROM plexus_deliveries WHERE stream_id = $1 AND handler = $2 LIMIT 1",
                   {stream, handler})
              .empty();
}

Snapshot snapshot(Transaction& tx, int scanLimit, const std::vector<std::string>& ids) {
  Snapshot s;
  if (ids.empty()) {
    s.waiting = waitingAll(tx, scanLimit, s.overflow);
    return s;
  }
  std::vector<Value> params{scanLimit + 1};
  params.insert(params.end(), ids.begin(), ids.end());
  size_t waitingRows = 0;
  for (const Row& r :
       tx.query(std::string("SELECT 0, stream_id, handler FROM (SELECT stream_id, handler FROM "
                            "plexus_deliveries LIMIT $1) w UNION ALL SELECT 1, message_id, handler "
                            "FROM plexus_inbox WHERE message_id IN (") +
                    placeholders(2, ids.size()) + ")",
                params)) {
    if (r[0].asInt() == 0) {
      ++waitingRows;
      s.waiting.insert({r[1].asText(), r[2].asText()});
    } else {
      s.handled.insert({r[1].asText(), r[2].asText()});
    }
  }
  s.overflow = waitingRows > static_cast<size_t>(scanLimit);
  if (s.overflow) s.waiting.clear();
  return s;
}

}  // namespace plexus::store::deliveries
