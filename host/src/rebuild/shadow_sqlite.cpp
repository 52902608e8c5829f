#include "rebuild/shadow.hpp"
#include "store/sqlite.hpp"

#include <cctype>
#include <cstdio>

namespace plexus::rebuild {
namespace {

// "CREATE [UNIQUE] TABLE|INDEX [IF NOT EXISTS] name ..." (as sqlite_master keeps it) with the
// name qualified by the live file's schema.
std::string inLive(const std::string& ddl) {
  size_t i = 0;
  auto word = [&](const char* w) {
    while (i < ddl.size() && std::isspace(static_cast<unsigned char>(ddl[i])) != 0) ++i;
    size_t k = 0;
    while (w[k] != '\0' && i + k < ddl.size() &&
           std::toupper(static_cast<unsigned char>(ddl[i + k])) == w[k])
      ++k;
    if (w[k] != '\0' || i + k >= ddl.size() ||
        std::isspace(static_cast<unsigned char>(ddl[i + k])) == 0)
      return false;
    i += k;
    return true;
  };
  if (!word("CREATE")) throw store::SqlError("unexpected table definition: " + ddl, false);
  word("UNIQUE");
  if (!word("TABLE") && !word("INDEX"))
    throw store::SqlError("unexpected table definition: " + ddl, false);
  if (word("IF")) {
    word("NOT");
    word("EXISTS");
  }
  while (i < ddl.size() && std::isspace(static_cast<unsigned char>(ddl[i])) != 0) ++i;
  return ddl.substr(0, i) + "live." + ddl.substr(i);
}

class SqliteShadow final : public Shadow {
 public:
  SqliteShadow(const config::Store& config, store::Store& live, const std::string& id, bool inHost)
      : live_(live),
        inHost_(inHost),
        path_(config.url + ".rebuild-" + shortId(id)),
        suffix_("__retired_" + shortId(id)) {
    if (config.url.empty() || config.url == ":memory:")
      throw store::SqlError("a rebuild needs the store in a file (store.url is :memory:)", false);
    dropAbandoned(live_, path_);
    store_ = store::openSqliteAttached(path_, config.url);
  }

  std::string location() const override { return path_; }
  store::Store& store() override { return *store_; }

  std::vector<std::string> tables(store::Transaction& tx, bool filledOnly) override {
    std::vector<std::string> out;
    for (const Row& r : tx.query("SELECT name FROM main.sqlite_master WHERE type = 'table' AND "
                                 "name <> $1 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                                 "ORDER BY name",
                                 {std::string(kLedger)})) {
      const std::string t = r[0].asText();
      if (filledOnly && tx.query(withNames("SELECT 1 FROM main.{0} LIMIT 1", {t}), {}).empty())
        continue;
      out.push_back(t);
    }
    return out;
  }

  // One transaction of the live file (attached databases commit atomically per file).
  std::string swapIn(store::Transaction& tx, const std::vector<std::string>& tables) override {
    for (const auto& t : tables) {
      const bool exists = !tx.query(
                                 "SELECT 1 FROM live.sqlite_master WHERE type = 'table' AND "
                                 "name = $1",
                                 {t})
                               .empty();
      if (exists) {
        // The retired copy keeps its rows, not its indexes: their names go to the new table.
        for (const Row& i : tx.query("SELECT name FROM live.sqlite_master WHERE type = 'index' "
                                     "AND tbl_name = $1 AND sql IS NOT NULL",
                                     {t})) {
          tx.exec(withNames("DROP INDEX live.{0}", {i[0].asText()}));
        }
        tx.exec(withNames("ALTER TABLE live.{0} RENAME TO {1}", {t, t + suffix_}));
      }
      const Rows ddl =
          tx.query("SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = $1", {t});
      if (ddl.empty()) throw store::SqlError("table " + t + " is not in the shadow", false);
      tx.exec(inLive(ddl[0][0].asText()));
      tx.exec(withNames("INSERT INTO live.{0} SELECT * FROM main.{0}", {t}));
      for (const Row& i : tx.query("SELECT sql FROM main.sqlite_master WHERE type = 'index' AND "
                                   "tbl_name = $1 AND sql IS NOT NULL",
                                   {t})) {
        tx.exec(inLive(i[0].asText()));
      }
    }
    return suffix_;
  }

  std::unique_ptr<store::Transaction> quiesce() override {
    return inHost_ ? live_.begin() : nullptr;
  }

  void discard() override {
    store_.reset();
    dropAbandoned(live_, path_);
  }

 private:
  store::Store& live_;
  bool inHost_;
  std::string path_;
  std::string suffix_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace

std::unique_ptr<Shadow> openSqliteShadow(const config::Store& config, store::Store& live,
                                         const std::string& id, bool inHost) {
  return std::make_unique<SqliteShadow>(config, live, id, inHost);
}

}  // namespace plexus::rebuild
