#pragma once
// The durable runtime embedded in a test process (bus, admin and inline tests): the store block of
// the tier, the plugins' migrations and the dispatcher's options from the config. Header-only:
// PLEXUS_TEST_POSTGRES is set per test executable (tier integration), so each compiles its own.

#include "config/config.hpp"
#include "dispatch/dispatcher.hpp"
#include "plugin/runtime.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"
#include "support.hpp"

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::test {

// The config's "store" value: a SQLite file in `dir` (tier plugin) or, built with
// PLEXUS_TEST_POSTGRES, a fresh schema `{prefix}_{pid}_{n}` on PLEXUS_PG_URL, named in `schema`.
inline std::string embeddedStoreJson(const TempDir& dir, std::string& schema,
                                     const std::string& prefix) {
#ifdef PLEXUS_TEST_POSTGRES
  (void)dir;
  const char* url = std::getenv("PLEXUS_PG_URL");
  if (url == nullptr)
    throw std::runtime_error("PLEXUS_PG_URL is not set: start scripts/services first");
  static int counter = 0;
  schema = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  return R"({"kind": "postgresql", "url": ")" + std::string(url) + R"(", "schema": ")" + schema +
         R"("})";
#else
  (void)schema;
  (void)prefix;
  return R"({"kind": "sqlite", "url": ")" + dir.file("plexus.db") + R"("})";
#endif
}

// Applies the migrations of every plugin `runtime` loaded.
inline void migratePlugins(const plugin::Runtime& runtime, store::Store& db) {
  std::vector<store::Migration> migrations;
  for (const auto& p : runtime.plugins()) {
    for (const auto& m : p->migrations) migrations.push_back({p->name, m.version, m.name, m.sql});
  }
  store::migrate(db, migrations);
}

inline dispatch::Options dispatchOptions(const config::Config& cfg) {
  dispatch::Options o;
  o.maxAttempts = cfg.transport.maxAttempts;
  o.retryInitialMs = cfg.transport.retryInitialMs;
  o.retryMaxMs = cfg.transport.retryMaxMs;
  o.pollIntervalMs = cfg.transport.pollIntervalMs;
  return o;
}

inline void dropSchema(store::Store& db, const std::string& schema) {
  if (schema.empty()) return;
  auto tx = db.begin();
  tx->exec("DROP SCHEMA " + schema + " CASCADE");
  tx->commit();
}

}  // namespace plexus::test
