#pragma once
// The PostgreSQL store on libpq directly. Poco Data's PostgreSQL connector prepares, describes,
// executes and deallocates every statement (four round trips); here a statement is one round
// trip (PQexecParams), BEGIN travels in the same round trip as the first statement (pipeline
// mode), and the schema is the connection's search_path (set once, at connect).

#include "store/store.hpp"

#include <memory>
#include <string>

namespace plexus::store {

const Dialect& postgresDialect();
// store.url: a libpq URI (postgresql://u:p@h:port/db?sslmode=...) or key=value string;
// store.schema: the deployment's schema (may be empty).
std::unique_ptr<Store> openPostgres(const config::Store& config, int poolSize);

}  // namespace plexus::store
