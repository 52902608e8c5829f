#include "config/reader.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace plexus::config {

using nlohmann::json;

Env processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

namespace {
bool validVariableName(const std::string& name) {
  for (char n : name) {
    if (!((n >= 'A' && n <= 'Z') || (n >= 'a' && n <= 'z') || (n >= '0' && n <= '9') || n == '_')) {
      return false;
    }
  }
  return !name.empty();
}

// The '}' that closes the "${" at `open`, past any nested "${...}" in a default.
size_t closingBrace(const std::string& text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      ++depth;
      ++i;
    } else if (text[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string::npos;
}
}  // namespace

std::string expand(const std::string& text, const Env& env) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '$') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      out.push_back(c);
      continue;
    }
    const size_t close = closingBrace(text, i);
    if (close == std::string::npos)
      throw std::invalid_argument("unterminated ${ in \"" + text + "\"");
    const std::string inner = text.substr(i + 2, close - i - 2);
    const size_t sep = inner.find(":-");
    const std::string name = inner.substr(0, sep);
    if (name.empty()) throw std::invalid_argument("empty variable name in \"" + text + "\"");
    if (!validVariableName(name))
      throw std::invalid_argument("invalid variable name \"" + name + "\"");
    const std::optional<std::string> value = env(name);
    if (sep != std::string::npos) {
      // The default may itself hold ${...}: ${PLEXUS_AMQP_URLS:-${PLEXUS_AMQP_URL:-amqp://...}}.
      out += (value && !value->empty()) ? *value : expand(inner.substr(sep + 2), env);
    } else if (value) {
      out += *value;
    } else {
      throw std::invalid_argument("environment variable " + name +
                                  " is not set and has no default");
    }
    i = close;
  }
  return out;
}

void Reader::fail(const std::string& path, const std::string& message) const {
  throw ConfigError(file_, path, message);
}

std::string Reader::describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "an unsupported value";
  }
}

void Reader::expectObject(const json& v, const std::string& path,
                          const std::set<std::string>& allowed,
                          const std::set<std::string>& required) const {
  if (!v.is_object()) fail(path, "expected an object, got " + describe(v));
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (allowed.count(it.key()) == 0) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail(path + "/" + it.key(), "unknown key (allowed here: " + list + ")");
    }
  }
  for (const auto& r : required) {
    if (!v.contains(r)) fail(path + "/" + r, "missing required key");
  }
}

std::string Reader::string(const json& v, const std::string& path) const {
  if (!v.is_string()) fail(path, "expected a string, got " + describe(v));
  try {
    return expand(v.get<std::string>(), env_);
  } catch (const std::invalid_argument& e) {
    fail(path, e.what());
  }
}

int64_t Reader::integer(const json& v, const std::string& path, int64_t min, int64_t max) const {
  int64_t value = 0;
  if (v.is_number_integer() || v.is_number_unsigned()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      fail(path, "integer out of range");
    }
    value = v.get<int64_t>();
  } else if (v.is_string()) {
    const std::string s = string(v, path);
    size_t used = 0;
    try {
      value = std::stoll(s, &used, 10);
    } catch (const std::exception&) {
      used = 0;
    }
    if (s.empty() || used != s.size()) fail(path, "expected an integer, got \"" + s + "\"");
  } else {
    fail(path, "expected an integer, got " + describe(v));
  }
  if (value < min || value > max) {
    fail(path, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                   std::to_string(value));
  }
  return value;
}

bool Reader::boolean(const json& v, const std::string& path) const {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) {
    const std::string s = string(v, path);
    if (s == "true") return true;
    if (s == "false") return false;
    fail(path, "expected true or false, got \"" + s + "\"");
  }
  fail(path, "expected a boolean, got " + describe(v));
}

std::vector<std::string> Reader::strings(const json& v, const std::string& path) const {
  if (!v.is_array()) fail(path, "expected an array, got " + describe(v));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(string(v[i], path + "/" + std::to_string(i)));
  return out;
}

std::string Reader::oneOf(const json& v, const std::string& path,
                          const std::set<std::string>& choices) const {
  const std::string s = string(v, path);
  if (choices.count(s) == 0) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    fail(path, "must be one of " + list + ", got \"" + s + "\"");
  }
  return s;
}

json Reader::expandTree(const json& v, const std::string& path) const {
  if (v.is_string()) return string(v, path);
  if (v.is_array()) {
    json out = json::array();
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(expandTree(v[i], path + "/" + std::to_string(i)));
    return out;
  }
  if (v.is_object()) {
    json out = json::object();
    for (auto it = v.begin(); it != v.end(); ++it)
      out[it.key()] = expandTree(it.value(), path + "/" + it.key());
    return out;
  }
  return v;
}

void Reader::optionalInt(const json& obj, const std::string& base, const char* key, int& out,
                         int64_t min, int64_t max) const {
  if (obj.contains(key)) out = static_cast<int>(integer(obj[key], base + "/" + key, min, max));
}

std::string readSmallFile(const Reader& r, const std::string& file, const std::string& path) {
  constexpr std::uintmax_t kMaxBytes = 1 << 20;
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (ec || !std::filesystem::is_regular_file(status))
    r.fail(path, "cannot read \"" + file + "\" (not a regular file)");
  const auto size = std::filesystem::file_size(file, ec);
  if (ec || size > kMaxBytes) r.fail(path, "\"" + file + "\" is larger than 1 MiB");
  std::ifstream in(file, std::ios::binary);
  if (!in) r.fail(path, "cannot read \"" + file + "\"");
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace plexus::config
