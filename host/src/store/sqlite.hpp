#pragma once
// The SQLite store (Poco Data, one file): the embedded mode's store. One connection; one
// transaction at a time in the process; "$N" placeholders rewritten to "?N".

#include "store/store.hpp"

#include <memory>
#include <string>

namespace plexus::store {

const Dialect& sqliteDialect();
std::unique_ptr<Store> openSqlite(const config::Store& config, int poolSize);
// A second database file `path` with the file `live` attached as schema "live": unqualified
// names reach `path`'s tables first, then `live`'s (a rebuild's shadow, rebuild/).
std::unique_ptr<Store> openSqliteAttached(const std::string& path, const std::string& live);

}  // namespace plexus::store
