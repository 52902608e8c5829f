#include "store/store.hpp"

#include "store/postgres.hpp"
#include "store/sqlite.hpp"

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

std::vector<std::string> splitStatements(const std::string& script) {
  std::vector<std::string> out;
  std::string cur;
  size_t i = 0;
  auto flush = [&] {
    size_t b = cur.find_first_not_of(" \t\r\n");
    if (b != std::string::npos)
      out.push_back(cur.substr(b, cur.find_last_not_of(" \t\r\n") - b + 1));
    cur.clear();
  };
  while (i < script.size()) {
    const char c = script[i];
    if (c == '-' && i + 1 < script.size() && script[i + 1] == '-') {
      const size_t e = script.find('\n', i);
      i = e == std::string::npos ? script.size() : e + 1;
      cur.push_back('\n');
      continue;
    }
    if (c == '\'' || c == '"') {
      const size_t e = script.find(c, i + 1);
      const size_t end = e == std::string::npos ? script.size() : e + 1;
      cur.append(script, i, end - i);
      i = end;
      continue;
    }
    if (c == '$' && i + 1 < script.size() && script[i + 1] == '$') {
      const size_t e = script.find("$$", i + 2);
      const size_t end = e == std::string::npos ? script.size() : e + 2;
      cur.append(script, i, end - i);
      i = end;
      continue;
    }
    if (c == ';') {
      flush();
      ++i;
      continue;
    }
    cur.push_back(c);
    ++i;
  }
  flush();
  return out;
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
