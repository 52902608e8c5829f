#include "store/dead_letters.hpp"

#include "store/message_rows.hpp"

namespace plexus::store::dead_letters {
namespace {

long long ll(int64_t v) { return static_cast<long long>(v); }

const std::string& selectSql() {
  static const std::string sql =
      std::string("SELECT id, handler, reason, attempts, first_failed_at, last_failed_at, ") +
      kMessageColumns + " FROM plexus_dead_letters";
  return sql;
}

DeadLetter fromRow(const Row& r) {
  DeadLetter d;
  d.id = r[0].asText();
  d.handler = r[1].asText();
  d.reason = r[2].asText();
  d.attempts = r[3].asInt();
  d.firstFailedAt = r[4].asInt();
  d.lastFailedAt = r[5].asInt();
  d.message = messageFrom(r, 6);
  d.message.attempt = static_cast<uint32_t>(d.attempts);
  return d;
}

}  // namespace

void add(Transaction& tx, const DeadLetter& d) {
  static const std::string sql =
      std::string("INSERT INTO plexus_dead_letters (") + kMessageColumns +
      ", id, handler, reason, attempts, first_failed_at, last_failed_at) VALUES (" +
      placeholders(1, kMessageColumnCount + 6) + ")";
  std::vector<Value> row;
  row.reserve(kMessageColumnCount + 6);
  appendMessage(row, d.message);
  row.emplace_back(d.id);
  row.emplace_back(d.handler);
  row.emplace_back(d.reason);
  row.emplace_back(ll(d.attempts));
  row.emplace_back(ll(d.firstFailedAt));
  row.emplace_back(ll(d.lastFailedAt));
  tx.exec(sql, row);
}

std::vector<DeadLetter> list(Transaction& tx, int limit) {
  std::vector<DeadLetter> out;
  for (const Row& r : tx.query(selectSql() + " ORDER BY last_failed_at DESC, id LIMIT $1", {limit}))
    out.push_back(fromRow(r));
  return out;
}

std::optional<DeadLetter> get(Transaction& tx, const std::string& id) {
  const Rows rows = tx.query(selectSql() + " WHERE id = $1", {id});
  if (rows.empty()) return std::nullopt;
  return fromRow(rows[0]);
}

bool remove(Transaction& tx, const std::string& id) {
  return tx.exec("DELETE FROM plexus_dead_letters WHERE id = $1", {id}) > 0;
}

}  // namespace plexus::store::dead_letters
