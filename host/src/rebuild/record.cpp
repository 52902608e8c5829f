#include "rebuild/record.hpp"

#include "message/message.hpp"

#include <plexus/sdk/rfc3339.hpp>

namespace plexus::rebuild {
namespace {

using nlohmann::json;

// The columns, in the order fromRow() reads them.
#define PLEXUS_REBUILD_RECORD_COLUMNS                                                          \
  "id, component, state, source, shadow, retired, tables, events, duplicates, rejected, lag, " \
  "owner, started_at, updated_at, switched_at, drop_after, dropped_at, error"

std::string text(const Value& v) { return v.isNull() ? std::string() : v.asText(); }
std::optional<int64_t> maybe(const Value& v) {
  return v.isNull() ? std::nullopt : std::optional<int64_t>(v.asInt());
}
Value orNull(const std::optional<int64_t>& v) {
  return v ? Value(static_cast<long long>(*v)) : Value();
}

Record fromRow(const Row& r) {
  Record out;
  out.id = text(r[0]);
  out.component = text(r[1]);
  out.state = text(r[2]);
  out.source = text(r[3]);
  out.shadow = text(r[4]);
  out.retired = text(r[5]);
  const json tables = json::parse(text(r[6]), nullptr, false);
  if (tables.is_array()) {
    for (const auto& t : tables) {
      if (t.is_string()) out.tables.push_back(t.get<std::string>());
    }
  }
  out.events = r[7].asInt();
  out.duplicates = r[8].asInt();
  out.rejected = r[9].asInt();
  out.lag = r[10].asInt();
  out.owner = text(r[11]);
  out.startedAt = r[12].asInt();
  out.updatedAt = r[13].asInt();
  out.switchedAt = maybe(r[14]);
  out.dropAfter = maybe(r[15]);
  out.droppedAt = maybe(r[16]);
  out.error = text(r[17]);
  return out;
}

std::vector<Record> rows(store::Transaction& tx, const char* sql,
                         const std::vector<Value>& params) {
  std::vector<Record> out;
  for (const Row& r : tx.query(sql, params)) out.push_back(fromRow(r));
  return out;
}

json time(const std::optional<int64_t>& ms) {
  return ms ? json(plexus::rfc3339::format(*ms)) : json(nullptr);
}

}  // namespace

bool Record::active() const {
  return state == "preparing" || state == "replaying" || state == "catching-up" ||
         state == "switching";
}

json Record::toJson() const {
  const double seconds = static_cast<double>(updatedAt - startedAt) / 1000.0;
  return json{{"id", id},
              {"component", component},
              {"state", state},
              {"source", source},
              {"shadow", shadow},
              {"retired", retired.empty() ? json(nullptr) : json(retired)},
              {"tables", tables},
              {"events", events},
              {"duplicates", duplicates},
              {"rejected", rejected},
              {"lag", lag},
              {"eventsPerSecond", seconds > 0 ? static_cast<double>(events) / seconds : 0.0},
              {"owner", owner},
              {"startedAt", plexus::rfc3339::format(startedAt)},
              {"updatedAt", plexus::rfc3339::format(updatedAt)},
              {"switchedAt", time(switchedAt)},
              {"dropAfter", time(dropAfter)},
              {"droppedAt", time(droppedAt)},
              {"error", error.empty() ? json(nullptr) : json(error)}};
}

namespace records {

bool insertUnlessRunning(store::Transaction& tx, const Record& r, int64_t aliveSinceMs) {
  return tx.exec("INSERT INTO plexus_rebuilds (" PLEXUS_REBUILD_RECORD_COLUMNS
                 ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                 "$16, $17, $18 WHERE NOT EXISTS (SELECT 1 FROM plexus_rebuilds WHERE "
                 "component = $2 AND state IN ('preparing', 'replaying', 'catching-up', "
                 "'switching') AND updated_at >= $19)",
                 {r.id, r.component, r.state, r.source, r.shadow, r.retired, json(r.tables).dump(),
                  static_cast<long long>(r.events), static_cast<long long>(r.duplicates),
                  static_cast<long long>(r.rejected), static_cast<long long>(r.lag), r.owner,
                  static_cast<long long>(r.startedAt), static_cast<long long>(r.updatedAt),
                  orNull(r.switchedAt), orNull(r.dropAfter), orNull(r.droppedAt), r.error,
                  static_cast<long long>(aliveSinceMs)}) == 1;
}

void update(store::Transaction& tx, const Record& r) {
  tx.exec(
      "UPDATE plexus_rebuilds SET state = $2, shadow = $3, retired = $4, tables = $5, events = $6, "
      "duplicates = $7, rejected = $8, lag = $9, updated_at = $10, switched_at = $11, "
      "drop_after = $12, dropped_at = $13, error = $14 WHERE id = $1",
      {r.id, r.state, r.shadow, r.retired, json(r.tables).dump(), static_cast<long long>(r.events),
       static_cast<long long>(r.duplicates), static_cast<long long>(r.rejected),
       static_cast<long long>(r.lag), static_cast<long long>(r.updatedAt), orNull(r.switchedAt),
       orNull(r.dropAfter), orNull(r.droppedAt), r.error});
}

std::optional<Record> get(store::Transaction& tx, const std::string& id) {
  auto found =
      rows(tx, "SELECT " PLEXUS_REBUILD_RECORD_COLUMNS " FROM plexus_rebuilds WHERE id = $1", {id});
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::vector<Record> list(store::Transaction& tx, int limit) {
  return rows(tx,
              "SELECT " PLEXUS_REBUILD_RECORD_COLUMNS
              " FROM plexus_rebuilds ORDER BY started_at DESC, id DESC LIMIT $1",
              {limit});
}

std::optional<Record> running(store::Transaction& tx, const std::string& component,
                              int64_t aliveSinceMs) {
  auto found = rows(tx,
                    "SELECT " PLEXUS_REBUILD_RECORD_COLUMNS
                    " FROM plexus_rebuilds WHERE component = $1 AND state IN ('preparing', "
                    "'replaying', 'catching-up', "
                    "'switching') AND updated_at >= $2 ORDER BY started_at DESC",
                    {component, static_cast<long long>(aliveSinceMs)});
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::vector<Record> expired(store::Transaction& tx, int64_t nowMs, int64_t staleBeforeMs) {
  return rows(tx,
              "SELECT " PLEXUS_REBUILD_RECORD_COLUMNS
              " FROM plexus_rebuilds WHERE (state = 'switched' AND drop_after <= $1) OR (state IN "
              "('preparing', "
              "'replaying', 'catching-up', 'switching') AND updated_at < $2)",
              {static_cast<long long>(nowMs), static_cast<long long>(staleBeforeMs)});
}

bool claim(store::Transaction& tx, const std::string& id, const std::string& from,
           const std::string& to, int64_t nowMs) {
  return tx.exec(
             "UPDATE plexus_rebuilds SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2",
             {id, from, to, static_cast<long long>(nowMs)}) == 1;
}

}  // namespace records
}  // namespace plexus::rebuild
