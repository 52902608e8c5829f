#pragma once
// The durable runtime embedded in a test process (bus, admin and inline tests): the store block of
// the tier, the plugins' migrations and the dispatcher's options from the config. Header-only:
// PLEXUS_TEST_POSTGRES is set per test executable (tier integration), so each compiles its own.

#include "base/clock.hpp"
#include "config/config.hpp"
#include "dispatch/dispatcher.hpp"
#include "http/server.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
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

// A fixture with the runtime, store, dispatcher and HTTP server wired as the host wires them. A
// test parses `cfg_`, calls wire() (the server is built, not started: more may attach first),
// then starts what it needs.
class EmbeddedFixture : public ::testing::Test {
 protected:
  void wire() {
    runtime_ = std::make_unique<plugin::Runtime>(metrics_);
    runtime_->start(cfg_);
    db_ = store::Store::open(cfg_.store, cfg_.store.poolSize);
    migratePlugins(*runtime_, *db_);
    bus_ = std::make_unique<dispatch::Dispatcher>(*runtime_, *db_, metrics_, dispatchOptions(cfg_),
                                                  nullptr, systemClock());
    auto* b = bus_.get();
    runtime_->attachStore(db_.get(), [b] { b->wake(); });
    server_ = std::make_unique<http::Server>(cfg_, *runtime_, metrics_);
    server_->attach(db_.get(), bus_.get(), &migrated_);
  }
  void TearDown() override {
    server_.reset();
    bus_.reset();
    if (db_ != nullptr) dropSchema(*db_, schema_);
  }
  int64_t scalar(const std::string& sql, const std::vector<Value>& params = {}) {
    auto tx = db_->begin();
    auto rows = tx->query(sql, params);
    tx->commit();
    return rows.empty() || rows[0][0].isNull() ? 0 : rows[0][0].asInt();
  }

  TempDir dir_;
  config::Config cfg_;
  Metrics metrics_;
  std::unique_ptr<plugin::Runtime> runtime_;
  std::unique_ptr<store::Store> db_;
  std::unique_ptr<dispatch::Dispatcher> bus_;
  std::unique_ptr<http::Server> server_;
  std::atomic<bool> migrated_{true};
  int port_ = 0;
  std::string schema_;
};

}  // namespace plexus::test
