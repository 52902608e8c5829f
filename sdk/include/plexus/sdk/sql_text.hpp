#pragma once
// SQL text handling shared by the host's SQLite store and the SQLite test host
// (plexus/testing/sqlite_host.hpp), so a plugin's statements are rewritten the same way in its
// tests as in production. Header-only.

#include <string>
#include <string_view>
#include <vector>

namespace plexus::sql {

// "$N" -> "?N" outside quotes. Plugins write PostgreSQL's $1..$N on every dialect; SQLite numbers
// "$N" parameters by first appearance, not by N, while "?N" means parameter N: "$2 ... $1" binds
// as on PostgreSQL.
inline std::string sqliteParameters(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '1' && sql[i + 1] <= '9') {
      out.push_back('?');
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// Splits a migration script into statements on ';' outside quotes, dollar-quoted blocks and
// "--" comments; empty statements are dropped.
inline std::vector<std::string> splitStatements(std::string_view script) {
  std::vector<std::string> out;
  std::string cur;
  size_t i = 0;
  auto flush = [&] {
    const size_t b = cur.find_first_not_of(" \t\r\n");
    if (b != std::string::npos)
      out.push_back(cur.substr(b, cur.find_last_not_of(" \t\r\n") - b + 1));
    cur.clear();
  };
  while (i < script.size()) {
    const char c = script[i];
    if (c == '-' && i + 1 < script.size() && script[i + 1] == '-') {
      const size_t e = script.find('\n', i);
      i = e == std::string_view::npos ? script.size() : e + 1;
      cur.push_back('\n');
      continue;
    }
    if (c == '\'' || c == '"') {
      const size_t e = script.find(c, i + 1);
      const size_t end = e == std::string_view::npos ? script.size() : e + 1;
      cur.append(script.substr(i, end - i));
      i = end;
      continue;
    }
    if (c == '$' && i + 1 < script.size() && script[i + 1] == '$') {
      const size_t e = script.find("$$", i + 2);
      const size_t end = e == std::string_view::npos ? script.size() : e + 2;
      cur.append(script.substr(i, end - i));
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

}  // namespace plexus::sql
