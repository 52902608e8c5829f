#pragma once
// The `store` section: where outbox, inbox, event store and plugin tables live.

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace plexus::config {

class Reader;

struct Store {
  std::string kind;  // "sqlite" | "postgresql" (also spelt "postgres"); empty = no store
  std::string url;
  std::string schema;
  int poolSize = 16;
};

Store parseStore(const Reader& r, const nlohmann::json& s);

}  // namespace plexus::config
