#pragma once
// Shared by the section parsers: walks the document with the current JSON pointer so every error
// names its file and place, and expands ${VAR} in every string it reads.

#include "config/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace plexus::config {

// Environment lookup; the default reads the process environment.
using Env = std::function<std::optional<std::string>(const std::string&)>;
Env processEnv();

// Expands ${VAR} and ${VAR:-default} in `text`; `$$` is a literal `$`. Throws std::invalid_argument
// naming the variable when one without a default is unset.
std::string expand(const std::string& text, const Env& env);

class Reader {
 public:
  Reader(std::string file, const Env& env) : file_(std::move(file)), env_(env) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message) const;
  static std::string describe(const nlohmann::json& v);

  // An object whose keys are all in `allowed` and that has every key of `required`.
  void expectObject(const nlohmann::json& v, const std::string& path,
                    const std::set<std::string>& allowed,
                    const std::set<std::string>& required) const;
  std::string string(const nlohmann::json& v, const std::string& path) const;
  // Integers may come as numbers or as strings (for ${VAR} expansion), always whole and in range.
  int64_t integer(const nlohmann::json& v, const std::string& path, int64_t min, int64_t max) const;
  // Booleans may come as JSON booleans or as the strings "true"/"false" (for ${VAR} expansion).
  bool boolean(const nlohmann::json& v, const std::string& path) const;
  std::vector<std::string> strings(const nlohmann::json& v, const std::string& path) const;
  std::string oneOf(const nlohmann::json& v, const std::string& path,
                    const std::set<std::string>& choices) const;
  // Expands strings inside a free-form object (a plugin's config).
  nlohmann::json expandTree(const nlohmann::json& v, const std::string& path) const;

  // `out` = integer at obj[key] when present (path = base + "/" + key).
  void optionalInt(const nlohmann::json& obj, const std::string& base, const char* key, int& out,
                   int64_t min, int64_t max) const;

 private:
  std::string file_;
  const Env& env_;
};

// A regular file of at most 1 MiB (never a device or a FIFO that would block or never end).
std::string readSmallFile(const Reader& r, const std::string& file, const std::string& path);

}  // namespace plexus::config
