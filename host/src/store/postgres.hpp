#pragma once
// The PostgreSQL store on libpq directly. Poco Data's PostgreSQL connector prepares, describes,
// executes and deallocates every statement (four round trips); here a statement is one round
// trip (PQexecParams), BEGIN travels in the same round trip as the first statement (pipeline
// mode), and the schema is the connection's search_path (set once, at connect).

#include "store/store.hpp"

#include <memory>
#include <string>
#include <vector>

namespace plexus::store {

const Dialect& postgresDialect();
// store.url: a libpq URI (postgresql://u:p@h:port/db?sslmode=...) or key=value string;
// store.schema: the deployment's schema (may be empty).
std::unique_ptr<Store> openPostgres(const config::Store& config, int poolSize);
// The same database with unqualified names resolved through `searchPath` in order (a rebuild's
// shadow schema first, then the deployment's); schema() is its first entry.
std::unique_ptr<Store> openPostgresSearchPath(const config::Store& config,
                                              const std::vector<std::string>& searchPath,
                                              int poolSize);

}  // namespace plexus::store
