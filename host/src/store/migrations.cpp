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

// v4: messages stored as metadata columns beside the payload as it came (DESIGN.md §3), instead of
// a JSON envelope; the event store keeps each event's metadata; the outbox's unused lease columns
// go. Tables are rebuilt (SQLite cannot drop a UNIQUE column constraint) and the rows of 0.1 are
// converted, the JSON read with the dialect's operators ({J}: as JSON; {T}: back to text).
// A dead-letter copy keeps the failed message's id, so message ids are unique per kind only.
constexpr const char* kFrameworkV4 = R"SQL(
CREATE TABLE plexus_outbox_v4 (
  seq {SEQ},
  message_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  type TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  causation_id TEXT NOT NULL,
  source TEXT NOT NULL,
  source_instance TEXT NOT NULL,
  traceparent TEXT NOT NULL,
  tracestate TEXT NOT NULL,
  content_type TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  payload TEXT NOT NULL,
  deliver_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  published_at BIGINT
);
INSERT INTO plexus_outbox_v4 (message_id, kind, type, stream_id, correlation_id, causation_id,
  source, source_instance, traceparent, tracestate, content_type, occurred_at, payload,
  deliver_at, created_at, published_at)
SELECT message_id, kind, type, stream_id,
  COALESCE(envelope{J} ->> 'correlation', ''), COALESCE(envelope{J} ->> 'causation', ''),
  COALESCE(envelope{J} -> 'source' ->> 'service', ''),
  COALESCE(envelope{J} -> 'source' ->> 'instance', ''),
  COALESCE(envelope{J} ->> 'traceparent', ''), '', 'application/json',
  COALESCE(CAST(envelope{J} ->> 'timestampMs' AS BIGINT), created_at),
  COALESCE((envelope{J} -> 'payload'){T}, 'null'), deliver_at, created_at, published_at
FROM plexus_outbox ORDER BY seq;
DROP TABLE plexus_outbox;
ALTER TABLE plexus_outbox_v4 RENAME TO plexus_outbox;
CREATE UNIQUE INDEX plexus_outbox_message ON plexus_outbox (message_id) WHERE kind <> 'dead-letter';
CREATE INDEX plexus_outbox_pending ON plexus_outbox (deliver_at) WHERE published_at IS NULL;
CREATE TABLE plexus_deliveries_v4 (
  seq {SEQ},
  message_id TEXT NOT NULL,
  handler TEXT NOT NULL,
  kind TEXT NOT NULL,
  type TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  causation_id TEXT NOT NULL,
  source TEXT NOT NULL,
  source_instance TEXT NOT NULL,
  traceparent TEXT NOT NULL,
  tracestate TEXT NOT NULL,
  content_type TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  payload TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  due_at BIGINT NOT NULL,
  first_failed_at BIGINT,
  last_error TEXT,
  claimed_by TEXT,
  claimed_until BIGINT,
  UNIQUE (message_id, handler)
);
INSERT INTO plexus_deliveries_v4 (message_id, handler, kind, type, stream_id, correlation_id,
  causation_id, source, source_instance, traceparent, tracestate, content_type, occurred_at,
  payload, attempt, due_at, first_failed_at, last_error, claimed_by, claimed_until)
SELECT message_id, handler, COALESCE(envelope{J} ->> 'kind', 'event'),
  COALESCE(envelope{J} ->> 'type', ''), stream_id,
  COALESCE(envelope{J} ->> 'correlation', ''), COALESCE(envelope{J} ->> 'causation', ''),
  COALESCE(envelope{J} -> 'source' ->> 'service', ''),
  COALESCE(envelope{J} -> 'source' ->> 'instance', ''),
  COALESCE(envelope{J} ->> 'traceparent', ''), '', 'application/json',
  COALESCE(CAST(envelope{J} ->> 'timestampMs' AS BIGINT), due_at),
  COALESCE((envelope{J} -> 'payload'){T}, 'null'), attempt, due_at, first_failed_at,
  last_error, claimed_by, claimed_until
FROM plexus_deliveries ORDER BY seq;
DROP TABLE plexus_deliveries;
ALTER TABLE plexus_deliveries_v4 RENAME TO plexus_deliveries;
CREATE INDEX plexus_deliveries_due ON plexus_deliveries (due_at);
CREATE INDEX plexus_deliveries_stream ON plexus_deliveries (stream_id, handler);
CREATE TABLE plexus_dead_letters_v4 (
  id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL,
  handler TEXT NOT NULL,
  kind TEXT NOT NULL,
  type TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  causation_id TEXT NOT NULL,
  source TEXT NOT NULL,
  source_instance TEXT NOT NULL,
  traceparent TEXT NOT NULL,
  tracestate TEXT NOT NULL,
  content_type TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  payload TEXT NOT NULL,
  reason TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  first_failed_at BIGINT NOT NULL,
  last_failed_at BIGINT NOT NULL
);
INSERT INTO plexus_dead_letters_v4 (id, message_id, handler, kind, type, stream_id,
  correlation_id, causation_id, source, source_instance, traceparent, tracestate, content_type,
  occurred_at, payload, reason, attempts, first_failed_at, last_failed_at)
SELECT id, message_id, handler, COALESCE(envelope{J} ->> 'kind', 'event'), type, stream_id,
  COALESCE(envelope{J} ->> 'correlation', ''), COALESCE(envelope{J} ->> 'causation', ''),
  COALESCE(envelope{J} -> 'source' ->> 'service', ''),
  COALESCE(envelope{J} -> 'source' ->> 'instance', ''),
  COALESCE(envelope{J} ->> 'traceparent', ''), '', 'application/json',
  COALESCE(CAST(envelope{J} ->> 'timestampMs' AS BIGINT), first_failed_at),
  COALESCE((envelope{J} -> 'payload'){T}, 'null'), reason, attempts, first_failed_at,
  last_failed_at
FROM plexus_dead_letters;
DROP TABLE plexus_dead_letters;
ALTER TABLE plexus_dead_letters_v4 RENAME TO plexus_dead_letters;
CREATE INDEX plexus_dead_letters_failed ON plexus_dead_letters (last_failed_at);
ALTER TABLE plexus_events ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE plexus_events ADD COLUMN causation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE plexus_events ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE plexus_events ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
ALTER TABLE plexus_events ADD COLUMN content_type TEXT NOT NULL DEFAULT 'application/json';
ALTER TABLE plexus_events ADD COLUMN occurred_at BIGINT NOT NULL DEFAULT 0
)SQL";

// v5: a published outbox row leaves the outbox, so the table holds only what waits and the
// relay's cost does not grow with history (v4 kept every published row for the retention period,
// and each mark left a dead tuple and an index entry behind). Where a deployment wants published
// messages kept for inspection (transport.keep_published_hours), they move to plexus_published,
// which nothing on the delivery path reads.
constexpr const char* kFrameworkV5 = R"SQL(
CREATE TABLE plexus_published (
  seq BIGINT PRIMARY KEY,
  message_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  type TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  causation_id TEXT NOT NULL,
  source TEXT NOT NULL,
  source_instance TEXT NOT NULL,
  traceparent TEXT NOT NULL,
  tracestate TEXT NOT NULL,
  content_type TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  payload TEXT NOT NULL,
  deliver_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  published_at BIGINT NOT NULL
);
CREATE INDEX plexus_published_at ON plexus_published (published_at);
CREATE INDEX plexus_published_message ON plexus_published (message_id);
CREATE INDEX plexus_published_correlation ON plexus_published (correlation_id);
DELETE FROM plexus_outbox WHERE published_at IS NOT NULL;
DROP INDEX plexus_outbox_pending;
ALTER TABLE plexus_outbox DROP COLUMN published_at;
CREATE INDEX plexus_outbox_due ON plexus_outbox (deliver_at)
)SQL";

// v6: live rebuilds of a perspective's read model (rebuild/): progress and where the replaced
// copy waits for its drop, readable by every replica and by the rebuild command.
constexpr const char* kFrameworkV6 = R"SQL(
CREATE TABLE plexus_rebuilds (
  id TEXT PRIMARY KEY,
  component TEXT NOT NULL,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  shadow TEXT NOT NULL,
  retired TEXT NOT NULL DEFAULT '',
  tables TEXT NOT NULL DEFAULT '[]',
  events BIGINT NOT NULL DEFAULT 0,
  duplicates BIGINT NOT NULL DEFAULT 0,
  rejected BIGINT NOT NULL DEFAULT 0,
  lag BIGINT NOT NULL DEFAULT 0,
  owner TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  switched_at BIGINT,
  drop_after BIGINT,
  dropped_at BIGINT,
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX plexus_rebuilds_component ON plexus_rebuilds (component, started_at)
)SQL";

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

}  // namespace

std::string checksum(const std::string& sql) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(sql);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::vector<Migration> frameworkMigrations(const Dialect& dialect) {
  return {
      Migration{"plexus", 1, "framework tables: outbox, inbox, events, deliveries, dead letters",
                dialect.ddl(kFrameworkV1)},
      Migration{"plexus", 2, "delivery claims", kFrameworkV2},
      Migration{"plexus", 3, "deliveries by stream", kFrameworkV3},
      Migration{"plexus", 4, "messages as metadata columns and payload", dialect.ddl(kFrameworkV4)},
      Migration{"plexus", 5, "published outbox rows deleted, not kept", kFrameworkV5},
      Migration{"plexus", 6, "read model rebuilds", kFrameworkV6}};
}

MigrationReport migrate(Store& store, const std::vector<Migration>& pluginMigrations) {
  store.ensureSchema();
  MigrationReport report;
  auto tx = store.begin();
  store.dialect().lockMigrations(*tx);  // one migrator at a time; released at commit
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
  store.createSchema(*tx);
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

DryRun dryRunConfigured(
    const config::Store& config,
    const std::function<std::vector<Migration>(const Dialect&)>& pluginMigrations) {
  config::Store target = config;
  if (config.kind == "sqlite" && config.url != ":memory:" && !std::filesystem::exists(config.url)) {
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
