#include "rebuild/shadow.hpp"

#include "store/postgres.hpp"

#include <cstdio>
#include <filesystem>

namespace plexus::rebuild {

std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

std::string withNames(const std::string& sql, std::initializer_list<std::string> names) {
  std::string out = sql;
  size_t i = 0;
  for (const std::string& name : names) {
    const std::string marker = "{" + std::to_string(i++) + "}";
    const std::string q = quoted(name);
    for (size_t at = out.find(marker); at != std::string::npos;
         at = out.find(marker, at + q.size()))
      out.replace(at, marker.size(), q);
  }
  return out;
}

std::string shortId(const std::string& id) {
  std::string hex;
  for (char c : id) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) hex.push_back(c);
  }
  return hex.size() > 12 ? hex.substr(hex.size() - 12) : hex;
}

std::unique_ptr<Shadow> Shadow::open(const config::Store& config, store::Store& live,
                                     const std::string& id, bool inHost) {
  if (&live.dialect() == &store::postgresDialect()) return openPostgresShadow(config, live, id);
  return openSqliteShadow(config, live, id, inHost);
}

void Shadow::prepare(const std::vector<store::Migration>& migrations) {
  auto tx = store().begin();
  for (const auto& m : migrations) {
    for (const std::string& statement : store::splitStatements(m.sql)) {
      try {
        tx->exec(statement);
      } catch (const store::SqlError& e) {
        throw store::SqlError("migration " + m.owner + " v" + std::to_string(m.version) +
                                  " failed in the shadow: " + e.what(),
                              false);
      }
    }
  }
  tx->exec(
      "CREATE TABLE plexus_rebuild_ledger (message_id TEXT PRIMARY KEY, "
      "occurred_at BIGINT NOT NULL)");
  tx->commit();
}

void Shadow::dropRetired(store::Store& live, const std::string& retired,
                         const std::vector<std::string>& tables) {
  auto tx = live.begin();
  if (&live.dialect() == &store::postgresDialect()) {
    tx->exec(withNames("DROP SCHEMA IF EXISTS {0} CASCADE", {retired}));
  } else {
    for (const auto& t : tables) tx->exec(withNames("DROP TABLE IF EXISTS {0}", {t + retired}));
  }
  tx->commit();
}

void Shadow::dropAbandoned(store::Store& live, const std::string& location) {
  if (location.empty()) return;
  if (&live.dialect() == &store::postgresDialect()) {
    auto tx = live.begin();
    tx->exec(withNames("DROP SCHEMA IF EXISTS {0} CASCADE", {location}));
    tx->commit();
    return;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((location + suffix).c_str());
}

}  // namespace plexus::rebuild
