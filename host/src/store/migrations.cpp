#include "store/migrations.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

namespace plexus::store {
namespace {

constexpr const char* kFrameworkV1 = R"SQL(
CREATE TABLE plexus_outbox (
  seq {SEQ},
  message_id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  type TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  envelope TEXT NOT NULL,
  deliver_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  published_at BIGINT,
  lease_owner TEXT,
  lease_until BIGINT
);
CREATE INDEX plexus_outbox_pending ON plexus_outbox (deliver_at) WHERE published_at IS NULL;
CREATE TABLE plexus_inbox (
  message_id TEXT NOT NULL,
  handler TEXT NOT NULL,
  processed_at BIGINT NOT NULL,
  PRIMARY KEY (message_id, handler)
);
CREATE INDEX plexus_inbox_processed ON plexus_inbox (processed_at);
CREATE TABLE plexus_events (
  stream_id TEXT NOT NULL,
  version BIGINT NOT NULL,
  message_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (stream_id, version)
);
CREATE TABLE plexus_deliveries (
  seq {SEQ},
  message_id TEXT NOT NULL,
  handler TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  envelope TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  due_at BIGINT NOT NULL,
  first_failed_at BIGINT,
  last_error TEXT,
  UNIQUE (message_id, handler)
);
CREATE INDEX plexus_deliveries_due ON plexus_deliveries (due_at);
CREATE TABLE plexus_dead_letters (
  id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL,
  handler TEXT NOT NULL,
  type TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  envelope TEXT NOT NULL,
  reason TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  first_failed_at BIGINT NOT NULL,
  last_failed_at BIGINT NOT NULL
)
)SQL";

// v2: deliveries are claimed by one instance at a time (replicas share a deployment's store).
constexpr const char* kFrameworkV2 = R"SQL(
ALTER TABLE plexus_deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE plexus_deliveries ADD COLUMN claimed_until BIGINT
)SQL";

// v3: the broker consumer runs a message at once unless its (stream, handler) has a stored
// delivery waiting (order); that check is a lookup by stream and handler.
constexpr const char* kFrameworkV3 = R"SQL(
CREATE INDEX plexus_deliveries_stream ON plexus_deliveries (stream_id, handler)
)SQL";

std::string substitute(std::string sql, Dialect d) {
  const std::string seq =
      d == Dialect::Postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
  for (size_t at = sql.find("{SEQ}"); at != std::string::npos; at = sql.find("{SEQ}", at))
    sql.replace(at, 5, seq);
  return sql;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void ensureLedger(Transaction& tx) {
  tx.exec(
      "CREATE TABLE IF NOT EXISTS plexus_migrations (owner TEXT NOT NULL, version INTEGER NOT "
      "NULL, name TEXT NOT "
      "NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (owner, version))");
}

std::map<std::pair<std::string, int64_t>, std::string> applied(Transaction& tx) {
  std::map<std::pair<std::string, int64_t>, std::string> out;
  for (const Row& r : tx.query("SELECT owner, version, checksum FROM plexus_migrations", {})) {
    out[{r[0].asText(), r[1].asInt()}] = r[2].asText();
  }
  return out;
}

std::vector<Migration> ordered(const std::vector<Migration>& framework,
                               const std::vector<Migration>& plugins) {
  std::vector<Migration> all = framework;
  std::vector<Migration> p = plugins;
  std::stable_sort(p.begin(), p.end(), [](const Migration& a, const Migration& b) {
    return a.owner != b.owner ? a.owner < b.owner : a.version < b.version;
  });
  all.insert(all.end(), p.begin(), p.end());
  return all;
}

std::string label(const Migration& m);

std::string changed(const Migration& m, const std::string& recorded, const std::string& now) {
  return label(m) + " was changed after it was applied (recorded checksum " +
         recorded.substr(0, 12) + "..., now " + now.substr(0, 12) +
         "...); ship a new version instead of editing it";
}

std::string label(const Migration& m) {
  return "migration " + m.owner + " v" + std::to_string(m.version) + " (" + m.name + ")";
}

// Runs a migration's statements; a failure names the migration and the statement.
void apply(Transaction& tx, const Migration& m) {
  for (const std::string& statement : splitStatements(m.sql)) {
    try {
      tx.exec(statement);
    } catch (const SqlError& e) {
      const std::string shown =
          statement.size() > 200 ? statement.substr(0, 200) + "..." : statement;
      throw SqlError(label(m) + " failed: " + e.what() + " (in: " + shown + ")", e.transient());
    }
  }
}

void ensureSchema(Store& store) {
  if (store.dialect() != Dialect::Postgres || store.schema().empty()) return;
  auto tx = store.begin();
  tx->exec("CREATE SCHEMA IF NOT EXISTS " + store.schema());  // identifier validated at open
  tx->commit();
}

}  // namespace

std::string checksum(const std::string& sql) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(sql);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::vector<Migration> frameworkMigrations(Dialect dialect) {
  return {
      Migration{"plexus", 1, "framework tables: outbox, inbox, events, deliveries, dead letters",
                substitute(kFrameworkV1, dialect)},
      Migration{"plexus", 2, "delivery claims", kFrameworkV2},
      Migration{"plexus", 3, "deliveries by stream", kFrameworkV3}};
}

MigrationReport migrate(Store& store, const std::vector<Migration>& pluginMigrations) {
  ensureSchema(store);
  MigrationReport report;
  auto tx = store.begin();
  if (store.dialect() == Dialect::Postgres) {
    // One migrator at a time across every replica and Job; released at commit.
    tx->exec("SELECT pg_advisory_xact_lock(7391466)");
  }
  ensureLedger(*tx);
  const auto done = applied(*tx);
  for (const Migration& m : ordered(frameworkMigrations(store.dialect()), pluginMigrations)) {
    const std::string sum = checksum(m.sql);
    auto it = done.find({m.owner, m.version});
    if (it != done.end()) {
      if (it->second != sum) {
        throw MigrationError(changed(m, it->second, sum));
      }
      ++report.alreadyApplied;
      continue;
    }
    apply(*tx, m);
    tx->exec(
        "INSERT INTO plexus_migrations (owner, version, name, checksum, applied_at) VALUES ($1, "
        "$2, $3, $4, $5)",
        {m.owner, static_cast<long long>(m.version), m.name, sum, static_cast<long long>(nowMs())});
    ++report.applied;
  }
  tx->commit();
  return report;
}

std::vector<std::string> pendingMigrations(Store& store,
                                           const std::vector<Migration>& pluginMigrations) {
  std::vector<std::string> out;
  auto tx = store.begin();
  std::map<std::pair<std::string, int64_t>, std::string> done;
  try {
    done = applied(*tx);
  } catch (const SqlError& e) {
    if (e.transient()) throw;
    // No ledger yet: nothing applied.
  }
  for (const Migration& m : ordered(frameworkMigrations(store.dialect()), pluginMigrations)) {
    auto it = done.find({m.owner, m.version});
    if (it == done.end()) {
      out.push_back(m.owner + " v" + std::to_string(m.version) + " not applied");
    } else if (it->second != checksum(m.sql)) {
      out.push_back(m.owner + " v" + std::to_string(m.version) + " changed after it was applied");
    }
  }
  tx->rollback();
  return out;
}

DryRun dryRun(Store& store, const std::vector<Migration>& pluginMigrations) {
  DryRun out;
  out.ran = true;
  auto tx = store.begin();
  if (store.dialect() == Dialect::Postgres && !store.schema().empty())
    tx->exec("CREATE SCHEMA IF NOT EXISTS " + store.schema());  // identifier validated at open
  ensureLedger(*tx);
  const auto done = applied(*tx);
  for (const Migration& m : ordered(frameworkMigrations(store.dialect()), pluginMigrations)) {
    const std::string sum = checksum(m.sql);
    auto it = done.find({m.owner, m.version});
    if (it != done.end()) {
      if (it->second != sum) out.problems.push_back(changed(m, it->second, sum));
      continue;
    }
    ++out.pending;
    try {
      apply(*tx, m);
    } catch (const SqlError& e) {
      out.problems.push_back(e.what());
      break;  // PostgreSQL refuses every later statement of an aborted transaction
    }
  }
  tx->rollback();
  return out;
}

DryRun dryRunConfigured(const config::Store& config,
                        const std::function<std::vector<Migration>(Dialect)>& pluginMigrations) {
  config::Store target = config;
  if (config.kind != "postgres" && config.url != ":memory:" &&
      !std::filesystem::exists(config.url)) {
    target.url = ":memory:";
  }
  std::unique_ptr<Store> store;
  try {
    store = Store::open(target, 1);
    return dryRun(*store, pluginMigrations(store->dialect()));
  } catch (const SqlError& e) {
    if (!store || e.transient()) {
      DryRun out;
      out.skipped = std::string("store unreachable: ") + e.what();
      return out;
    }
    DryRun out;
    out.ran = true;
    out.problems.push_back(e.what());
    return out;
  }
}

}  // namespace plexus::store
