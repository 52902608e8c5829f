#pragma once
// The PostgreSQL store on libpq directly. Poco Data's PostgreSQL connector prepares, describes,
// executes and deallocates every statement (four round trips); here a statement is one round
// trip (PQexecParams), BEGIN travels in the same round trip as the first statement (pipeline
// mode), and the schema is the connection's search_path (set once, at connect).

#include "store/store.hpp"

#include <memory>
#include <string>

namespace plexus::store {

// `conninfo` is a libpq key=value string (see pgConnectionString); `schema` may be empty.
std::unique_ptr<Store> openPostgres(const std::string& conninfo, const std::string& schema,
                                    int poolSize);

}  // namespace plexus::store
