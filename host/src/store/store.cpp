#include "store/store.hpp"

#include "store/postgres.hpp"
#include "store/sqlite.hpp"

#include <plexus/sdk/sql_text.hpp>

#include <map>

namespace plexus::store {

bool validIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void Store::ensureSchema() {
  auto tx = begin();
  createSchema(*tx);
  tx->commit();
}

std::vector<std::string> splitStatements(const std::string& script) {
  return plexus::sql::splitStatements(script);  // the SDK's: the test host splits alike
}

namespace {
using Factory = std::unique_ptr<Store> (*)(const config::Store&, int);
// Store kinds (config store.kind) -> factory. A new dialect adds its entry here (and its name to
// the choices in config/store.cpp).
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> all{{"postgresql", &openPostgres},
                                                  {"sqlite", &openSqlite}};
  return all;
}
}  // namespace

std::unique_ptr<Store> Store::open(const config::Store& config, int poolSize) {
  // "postgres" is the 0.1 spelling (config/store.cpp reads it as "postgresql" too).
  auto it = factories().find(config.kind == "postgres" ? std::string("postgresql") : config.kind);
  if (it == factories().end())
    throw SqlError("no store of kind \"" + config.kind + "\" is built into this host", false);
  return it->second(config, poolSize);
}

}  // namespace plexus::store
