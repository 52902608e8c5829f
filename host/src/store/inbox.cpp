#include "store/inbox.hpp"

#include "store/message_rows.hpp"

#include <algorithm>

namespace plexus::store::inbox {

bool handled(Transaction& tx, const std::string& messageId, const std::string& handler) {
  return !tx.query("SELECT 1 FROM plexus_inbox WHERE message_id = $1 AND handler = $2",
                   {messageId, handler})
              .empty();
}

std::set<std::pair<std::string, std::string>> handledAmong(Transaction& tx,
                                                           const std::vector<std::string>& ids) {
  std::set<std::pair<std::string, std::string>> out;
  if (ids.empty()) return out;
  std::vector<Value> params(ids.begin(), ids.end());
  for (const Row& r :
       tx.query("SELECT message_id, handler FROM plexus_inbox WHERE message_id IN (" +
                    placeholders(1, ids.size()) + ")",
                params)) {
    out.insert({r[0].asText(), r[1].asText()});
  }
  return out;
}

void record(Transaction& tx, const std::string& messageId, const std::string& handler,
            int64_t nowMs, bool deferred) {
  static const std::string kInsert =
      "INSERT INTO plexus_inbox (message_id, handler, processed_at) VALUES ($1, $2, $3)";
  const std::vector<Value> row{messageId, handler, static_cast<long long>(nowMs)};
  if (deferred) {
    tx.defer(kInsert, row);
  } else {
    tx.exec(kInsert, row);
  }
}

void recordAll(Transaction& tx, const std::vector<std::pair<std::string, std::string>>& keys,
               int64_t nowMs) {
  constexpr size_t kRowsPerStatement = 1000;
  for (size_t from = 0; from < keys.size(); from += kRowsPerStatement) {
    const size_t n = std::min(kRowsPerStatement, keys.size() - from);
    std::vector<Value> params;
    params.reserve(n * 3);
    for (size_t i = from; i < from + n; ++i) {
      params.emplace_back(keys[i].first);
      params.emplace_back(keys[i].second);
      params.emplace_back(static_cast<long long>(nowMs));
    }
    tx.defer("INSERT INTO plexus_inbox (message_id, handler, processed_at) VALUES " +
                 placeholderRows(n, 3),
             params);
  }
}

int64_t purge(Transaction& tx, int64_t cutoffMs) {
  return tx.exec("DELETE FROM plexus_inbox WHERE processed_at < $1",
                 {static_cast<long long>(cutoffMs)});
}

}  // namespace plexus::store::inbox
