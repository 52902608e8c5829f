#include "store/dialect.hpp"

#include <cstring>

namespace plexus::store {

std::string fillPlaceholders(std::string sql,
                             std::initializer_list<std::pair<const char*, const char*>> values) {
  for (const auto& [name, value] : values) {
    const size_t n = std::strlen(name);
    for (size_t at = sql.find(name); at != std::string::npos; at = sql.find(name, at)) {
      sql.replace(at, n, value);
      at += std::strlen(value);
    }
  }
  return sql;
}

}  // namespace plexus::store
