#pragma once
// Schema migrations: the framework's own tables and every loaded plugin's, applied in version
// order, checksummed and recorded in plexus_migrations, under a lock, idempotent. An applied
// migration whose SQL changed is refused.

#include "store/store.hpp"

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

}  // namespace plexus::store
