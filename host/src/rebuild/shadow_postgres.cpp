#include "rebuild/shadow.hpp"
#include "store/postgres.hpp"

namespace plexus::rebuild {
namespace {

class PostgresShadow final : public Shadow {
 public:
  PostgresShadow(const config::Store& config, store::Store& live, const std::string& id)
      : live_(live),
        liveSchema_(config.schema.empty() ? "public" : config.schema),
        name_(liveSchema_ + "_rebuild_" + shortId(id)),
        retired_(liveSchema_ + "_retired_" + shortId(id)) {
    if (retired_.size() > 63) {
      throw store::SqlError("schema " + liveSchema_ + " is too long for a rebuild's shadow name " +
                                name_ + " (63 characters at most)",
                            false);
    }
    auto tx = live_.begin();
    tx->exec(withNames("CREATE SCHEMA {0}", {name_}));
    tx->commit();
    store_ = store::openPostgresSearchPath(config, {name_, liveSchema_}, 2);
  }

  std::string location() const override { return name_; }
  store::Store& store() override { return *store_; }

  std::vector<std::string> tables(store::Transaction& tx, bool filledOnly) override {
    std::vector<std::string> out;
    for (const Row& r : tx.query("SELECT tablename FROM pg_tables WHERE schemaname = $1 AND "
                                 "tablename <> $2 ORDER BY tablename",
                                 {name_, std::string(kLedger)})) {
      const std::string t = r[0].asText();
      if (filledOnly &&
          tx.query(withNames("SELECT 1 FROM {0}.{1} LIMIT 1", {name_, t}), {}).empty())
        continue;
      out.push_back(t);
    }
    return out;
  }

  std::string swapIn(store::Transaction& tx, const std::vector<std::string>& tables) override {
    tx.exec(withNames("CREATE SCHEMA {0}", {retired_}));
    for (const auto& t : tables) {
      const bool exists = !tx.query(
                                 "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND "
                                 "tablename = $2",
                                 {liveSchema_, t})
                               .empty();
      // Indexes, constraints and owned sequences move with their table.
      if (exists)
        tx.exec(withNames("ALTER TABLE {0}.{1} SET SCHEMA {2}", {liveSchema_, t, retired_}));
      tx.exec(withNames("ALTER TABLE {0}.{1} SET SCHEMA {2}", {name_, t, liveSchema_}));
    }
    return retired_;
  }

  void discard() override {
    store_.reset();  // its sessions close before the schema goes
    dropAbandoned(live_, name_);
  }

 private:
  store::Store& live_;
  std::string liveSchema_;
  std::string name_;
  std::string retired_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace

std::unique_ptr<Shadow> openPostgresShadow(const config::Store& config, store::Store& live,
                                           const std::string& id) {
  return std::make_unique<PostgresShadow>(config, live, id);
}

}  // namespace plexus::rebuild
