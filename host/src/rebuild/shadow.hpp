#pragma once
// Where a rebuild builds the new read model beside the old one, and how it takes the old one's
// place. PostgreSQL: a schema of its own (<schema>_rebuild_<id>) searched before the deployment's,
// so the perspective's unchanged SQL reaches the shadow tables and still finds the event store;
// the switch moves the old tables into <schema>_retired_<id> and the new ones into the
// deployment's schema, in one transaction. SQLite: a file of its own (<db>.rebuild-<id>) with the
// live file attached as "live"; the switch renames the old tables to <table>__retired_<id> and
// copies the new ones in, in one transaction of the live file.

#include "config/store.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace plexus::rebuild {

class Shadow {
 public:
  // `inHost`: the rebuild runs inside the host that serves `live` (see quiesce()).
  static std::unique_ptr<Shadow> open(const config::Store& config, store::Store& live,
                                      const std::string& id, bool inHost);
  // Drops a retired copy, as swapIn() named it, once its grace period ended.
  static void dropRetired(store::Store& live, const std::string& retired,
                          const std::vector<std::string>& tables);
  // Removes a shadow left behind by a rebuild that died (by its recorded location).
  static void dropAbandoned(store::Store& live, const std::string& location);

  virtual ~Shadow() = default;
  virtual std::string location() const = 0;
  // Transactions here see the shadow's tables first, then the deployment's (event store, inbox,
  // plexus_rebuilds).
  virtual store::Store& store() = 0;
  // Applies the plugin's migrations in the shadow and creates the ledger of applied events.
  void prepare(const std::vector<store::Migration>& migrations);
  // The shadow's tables (not the ledger); `filledOnly`: those holding rows.
  virtual std::vector<std::string> tables(store::Transaction& tx, bool filledOnly) = 0;
  // In the switch transaction: the deployment's copies of `tables` are retired, the shadow's take
  // their place. Returns where the retired ones are (for dropRetired).
  virtual std::string swapIn(store::Transaction& tx, const std::vector<std::string>& tables) = 0;
  // Held across the switch: SQLite in the serving host holds its store, so no host transaction
  // is between a read and a write when the tables change (null where nothing needs holding).
  virtual std::unique_ptr<store::Transaction> quiesce() { return nullptr; }
  // Removes the shadow (after the switch, or when the rebuild failed).
  virtual void discard() = 0;
};

// The ledger: every event the shadow applied, so the replay and the live tail never apply one
// twice. It stays in the shadow.
constexpr const char* kLedger = "plexus_rebuild_ledger";

// "name" quoted as an SQL identifier.
std::string quoted(const std::string& name);
// `sql` with {0}, {1}, ... replaced by `names` quoted as identifiers: schema and table names cannot
// be statement parameters, so they are spliced here, and only here, always quoted.
std::string withNames(const std::string& sql, std::initializer_list<std::string> names);
// The last 12 hex digits of a rebuild id: the suffix of its shadow and retired names.
std::string shortId(const std::string& id);

std::unique_ptr<Shadow> openPostgresShadow(const config::Store& config, store::Store& live,
                                           const std::string& id);
std::unique_ptr<Shadow> openSqliteShadow(const config::Store& config, store::Store& live,
                                         const std::string& id, bool inHost);

}  // namespace plexus::rebuild
