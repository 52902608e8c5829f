#include "rebuild/local_source.hpp"

#include "base/clock.hpp"
#include "store/event_store.hpp"
#include "store/message_rows.hpp"

namespace plexus::rebuild {
namespace {

using store::placeholders;

std::string text(const Value& v) { return v.isNull() ? std::string() : v.asText(); }

// The event store's columns a rebuild reads, in the order select() takes them.
#define PLEXUS_REBUILD_EVENT_COLUMNS                                                            \
  "e.stream_id, e.version, e.message_id, e.type, e.payload, e.correlation_id, e.causation_id, " \
  "e.source, e.traceparent, e.content_type, e.occurred_at"

}  // namespace

LocalSource::LocalSource(std::vector<std::string> types, const Clock& clock)
    : types_(std::move(types)), clock_(clock) {}

std::vector<Message> LocalSource::select(store::Transaction& tx, const std::string& sql,
                                         std::vector<Value> params, int limit, bool cursor) {
  for (const auto& t : types_) params.emplace_back(t);
  params.emplace_back(limit);
  const Rows rows = tx.query(sql, params);
  std::vector<Message> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    Message m = store::event_store::eventFrom(r, 2);
    m.stream = text(r[0]);
    if (cursor) {
      afterStream_ = m.stream;
      afterVersion_ = r[1].asInt();
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Message> LocalSource::history(store::Transaction& tx, int limit) {
  if (historyStartedAt_ == 0) historyStartedAt_ = clock_.nowMs();
  const std::string stream = afterStream_;
  const int64_t version = afterVersion_;
  return select(tx,
                "SELECT " PLEXUS_REBUILD_EVENT_COLUMNS
                " FROM plexus_events e WHERE (e.stream_id > $1 OR (e.stream_id = $1 AND "
                "e.version > $2)) AND e.type IN (" +
                    placeholders(3, types_.size()) + ") ORDER BY e.stream_id, e.version LIMIT " +
                    placeholders(3 + types_.size(), 1),
                {stream, static_cast<long long>(version)}, limit, true);
}

std::vector<Message> LocalSource::recent(store::Transaction& tx, int limit) {
  if (roundStartedAt_ == 0) roundStartedAt_ = historyStartedAt_;
  const int64_t since = roundStartedAt_ - kMarginMs;
  const int64_t now = clock_.nowMs();
  auto out =
      select(tx,
             "SELECT " PLEXUS_REBUILD_EVENT_COLUMNS
             " FROM plexus_events e WHERE e.created_at >= $1 AND NOT EXISTS (SELECT 1 "
             "FROM plexus_rebuild_ledger l WHERE l.message_id = e.message_id) AND e.type "
             "IN (" +
                 placeholders(2, types_.size()) + ") ORDER BY e.stream_id, e.version LIMIT " +
                 placeholders(2 + types_.size(), 1),
             {static_cast<long long>(since)}, limit);
  // Less than asked for: caught up to here, so the next round looks back from now.
  if (static_cast<int>(out.size()) < limit) roundStartedAt_ = now;
  return out;
}

std::vector<Message> LocalSource::missing(store::Transaction& tx, const std::string& handler,
                                          int64_t sinceMs) {
  return select(tx,
                "SELECT " PLEXUS_REBUILD_EVENT_COLUMNS
                " FROM plexus_events e WHERE e.message_id IN (SELECT i.message_id FROM "
                "plexus_inbox i WHERE i.handler = $1 AND i.processed_at >= $2) AND NOT EXISTS "
                "(SELECT 1 FROM plexus_rebuild_ledger l WHERE l.message_id = e.message_id) AND "
                "e.type IN (" +
                    placeholders(3, types_.size()) + ") ORDER BY e.stream_id, e.version LIMIT " +
                    placeholders(3 + types_.size(), 1),
                {handler, static_cast<long long>(sinceMs)}, 1000000);
}

void LocalSource::committed() {
  committedStream_ = afterStream_;
  committedVersion_ = afterVersion_;
}

void LocalSource::rewind() {
  afterStream_ = committedStream_;
  afterVersion_ = committedVersion_;
}

int64_t LocalSource::lag(store::Transaction& tx) {
  std::vector<Value> params;
  for (const auto& t : types_) params.emplace_back(t);
  const Rows r = tx.query("SELECT COUNT(*) FROM plexus_events e WHERE e.type IN (" +
                              placeholders(1, types_.size()) +
                              ") AND NOT EXISTS (SELECT 1 FROM plexus_rebuild_ledger l WHERE "
                              "l.message_id = e.message_id)",
                          params);
  return r.empty() ? -1 : r[0][0].asInt();
}

}  // namespace plexus::rebuild
