#pragma once
// The SQLite store (Poco Data, one file): the embedded mode's store. One connection; one
// transaction at a time in the process; "$N" placeholders rewritten to "?N".

#include "store/store.hpp"

#include <memory>

namespace plexus::store {

const Dialect& sqliteDialect();
std::unique_ptr<Store> openSqlite(const config::Store& config, int poolSize);

}  // namespace plexus::store
