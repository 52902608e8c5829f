#pragma once
// What every admin endpoint shares: JSON answers, errors and the query string.

#include "plugin/runtime.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace plexus::admin {

plugin::HttpResponse jsonOk(int status, const nlohmann::json& body);
// {"error": message} with `status`.
plugin::HttpResponse jsonError(int status, const std::string& message);
plugin::HttpResponse methodNotAllowed(const std::string& allow);

// Thrown by the parsers below; the admin API answers it as 400 with the message.
class BadParam : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The query string, percent-decoded ('+' is a space). A repeated key keeps its last value.
class Query {
 public:
  explicit Query(const std::string& raw);
  std::string text(const std::string& key, size_t maxBytes = 256) const;  // "" when absent
  // An integer in [min, max]; `fallback` when absent.
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;
  // Unix ms from RFC 3339 (2026-01-02T03:04:05Z, fraction and offset allowed) or plain ms.
  std::optional<int64_t> time(const std::string& key) const;

 private:
  std::map<std::string, std::string> values_;
};

// Percent-decoding; nullopt for a malformed escape.
std::optional<std::string> percentDecode(const std::string& s, bool plusIsSpace);
// Percent-encoding of one path segment (unreserved characters kept).
std::string percentEncode(const std::string& s);

// 1-128 of [A-Za-z0-9._:-]: message, stream and correlation ids the admin API looks up.
bool validId(const std::string& s);

}  // namespace plexus::admin
