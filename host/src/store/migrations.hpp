#pragma once
// Schema migrations: the framework's own tables and every loaded plugin's, applied in version
// order, checksummed and recorded in plexus_migrations, under a lock, idempotent. An applied
// migration whose SQL changed is refused.

#include "store/store.hpp"

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::store {

struct Migration {
  std::string owner;  // "plexus" for the framework, else the plugin name
  uint32_t version = 0;
  std::string name;
  std::string sql;
};

class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MigrationReport {
  int applied = 0;
  int alreadyApplied = 0;
};

// The framework's migrations for a dialect.
std::vector<Migration> frameworkMigrations(const Dialect& dialect);

// Applies framework + plugin migrations. Throws MigrationError (checksum mismatch) or SqlError.
MigrationReport migrate(Store& store, const std::vector<Migration>& pluginMigrations);

// What `migrate` would still apply (or refuse), without changing anything: empty = up to date.
std::vector<std::string> pendingMigrations(Store& store,
                                           const std::vector<Migration>& pluginMigrations);

std::string checksum(const std::string& sql);

// `plexus-host check` with a store: what migrate would do, tried for real in a transaction that is
// rolled back. `problems` names each failing migration (owner, version, name, statement) and each
// applied one whose text changed; empty = migrate would succeed.
struct DryRun {
  bool ran = false;
  std::string skipped;  // why it did not run (store unreachable)
  int pending = 0;
  std::vector<std::string> problems;
};
DryRun dryRun(Store& store, const std::vector<Migration>& pluginMigrations);

// Opens the configured store for a dry run. A SQLite file that does not exist yet is not created:
// the migrations are tried on an in-memory database instead (all of them are pending there).
DryRun dryRunConfigured(
    const config::Store& config,
    const std::function<std::vector<Migration>(const Dialect&)>& pluginMigrations);

}  // namespace plexus::store
