#pragma once
// A small JSON Schema (2020-12) validator for the subset the event catalogue uses, so tests can
// check every message a plugin emits against the schema its consumers rely on. Header-only.
//
// Keywords: type (one or a list), properties, required, additionalProperties (bool or schema),
// items, minItems, maxItems, enum, const, minimum, maximum, exclusiveMinimum, minLength,
// maxLength, pattern, format ("date-time": RFC 3339; "uuid"), anyOf, oneOf, allOf, $ref to
// "#/$defs/<name>", $defs. Annotations ($schema, $id, title, description, examples, $comment) are
// ignored. Any other keyword is an error in the schema, so a schema never means more than is
// checked.
//
//   plexus::testing::JsonSchema schema(plexus::Json::parse(text), "OrderCreated.json");
//   for (const auto& e : schema.validate(payload)) std::cerr << e << "\n";  // "/items/0/quantity:
//   ..."

#include <plexus/sdk/rfc3339.hpp>
#include <plexus/sdk/uuid.hpp>

#include <nlohmann/json.hpp>

#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::testing {

class JsonSchema {
 public:
  // Throws std::invalid_argument naming `origin` when the schema uses an unsupported keyword.
  explicit JsonSchema(nlohmann::json schema, std::string origin = "schema")
      : root_(std::move(schema)), origin_(std::move(origin)) {
    check(root_, "");
  }

  // Every violation, each prefixed with the JSON pointer of the value: empty = valid.
  std::vector<std::string> validate(const nlohmann::json& value) const {
    std::vector<std::string> errors;
    validate(root_, value, "", errors);
    return errors;
  }

  const nlohmann::json& schema() const { return root_; }
  const std::string& origin() const { return origin_; }

 private:
  static const std::set<std::string>& known() {
    static const std::set<std::string> k{
        "type",        "properties", "required", "additionalProperties",
        "items",       "minItems",   "maxItems", "enum",
        "const",       "minimum",    "maximum",  "exclusiveMinimum",
        "minLength",   "maxLength",  "pattern",  "format",
        "anyOf",       "oneOf",      "allOf",    "$ref",
        "$defs",       "$schema",    "$id",      "title",
        "description", "examples",   "$comment"};
    return k;
  }

  void check(const nlohmann::json& s, const std::string& at) const {
    if (s.is_boolean()) return;
    if (!s.is_object()) throw std::invalid_argument(origin_ + at + ": a schema must be an object");
    for (const auto& [key, sub] : s.items()) {
      if (known().count(key) == 0) {
        throw std::invalid_argument(origin_ + at + ": unsupported JSON Schema keyword \"" + key +
                                    "\" (plexus/testing/json_schema.hpp)");
      }
      if (key == "properties" || key == "$defs") {
        for (const auto& [name, p] : sub.items()) check(p, at + "/" + key + "/" + name);
      } else if (key == "items" || key == "additionalProperties") {
        check(sub, at + "/" + key);
      } else if (key == "anyOf" || key == "oneOf" || key == "allOf") {
        for (size_t i = 0; i < sub.size(); ++i)
          check(sub[i], at + "/" + key + "/" + std::to_string(i));
      } else if (key == "format" && sub != "date-time" && sub != "uuid") {
        throw std::invalid_argument(origin_ + at + ": unsupported format " + sub.dump());
      }
    }
  }

  static bool isType(const nlohmann::json& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer") {
      return v.is_number_integer() ||
             (v.is_number_float() &&
              v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())));
    }
    return false;
  }

  const nlohmann::json& resolve(const std::string& ref, const std::string& at) const {
    const std::string prefix = "#/$defs/";
    if (ref.rfind(prefix, 0) != 0 || !root_.contains("$defs") ||
        !root_["$defs"].contains(ref.substr(prefix.size()))) {
      throw std::invalid_argument(origin_ + at + ": cannot resolve $ref " + ref);
    }
    return root_["$defs"][ref.substr(prefix.size())];
  }

  void validate(const nlohmann::json& s, const nlohmann::json& v, const std::string& at,
                std::vector<std::string>& errors) const {
    const std::string where = at.empty() ? "/" : at;
    auto fail = [&](const std::string& what) { errors.push_back(where + ": " + what); };
    if (s.is_boolean()) {
      if (!s.get<bool>()) fail("no value is allowed here");
      return;
    }
    if (s.contains("$ref")) validate(resolve(s["$ref"], at), v, at, errors);
    if (s.contains("type")) {
      const auto& t = s["type"];
      bool ok = false;
      if (t.is_string()) ok = isType(v, t);
      for (const auto& one : t.is_array() ? t : nlohmann::json::array()) ok = ok || isType(v, one);
      if (!ok) {
        fail("must be of type " + (t.is_string() ? t.get<std::string>() : t.dump()) + ", is " +
             v.type_name());
        return;
      }
    }
    if (s.contains("enum")) {
      bool found = false;
      for (const auto& e : s["enum"]) found = found || e == v;
      if (!found) fail("must be one of " + s["enum"].dump() + ", is " + v.dump());
    }
    if (s.contains("const") && s["const"] != v) fail("must be " + s["const"].dump());
    if (v.is_number()) {
      const double d = v.get<double>();
      if (s.contains("minimum") && d < s["minimum"].get<double>())
        fail("must be >= " + s["minimum"].dump());
      if (s.contains("maximum") && d > s["maximum"].get<double>())
        fail("must be <= " + s["maximum"].dump());
      if (s.contains("exclusiveMinimum") && d <= s["exclusiveMinimum"].get<double>())
        fail("must be > " + s["exclusiveMinimum"].dump());
    }
    if (v.is_string()) {
      const std::string& text = v.get_ref<const std::string&>();
      if (s.contains("minLength") && text.size() < s["minLength"].get<size_t>())
        fail("must have at least " + s["minLength"].dump() + " characters");
      if (s.contains("maxLength") && text.size() > s["maxLength"].get<size_t>())
        fail("must have at most " + s["maxLength"].dump() + " characters");
      if (s.contains("pattern") &&
          !std::regex_search(text, std::regex(s["pattern"].get<std::string>())))
        fail("must match " + s["pattern"].dump());
      if (s.contains("format")) {
        const std::string f = s["format"];
        if (f == "date-time" && !rfc3339::parse(text)) fail("must be an RFC 3339 date-time");
        if (f == "uuid" && !uuid::valid(text)) fail("must be a UUID");
      }
    }
    if (v.is_object()) {
      for (const auto& r : s.value("required", nlohmann::json::array())) {
        if (!v.contains(r.get<std::string>()))
          fail("lacks the required property \"" + r.get<std::string>() + "\"");
      }
      const auto props = s.value("properties", nlohmann::json::object());
      for (const auto& [key, sub] : v.items()) {
        const std::string child = at + "/" + key;
        if (props.contains(key)) {
          validate(props[key], sub, child, errors);
        } else if (s.contains("additionalProperties")) {
          const auto& extra = s["additionalProperties"];
          if (extra.is_boolean() && !extra.get<bool>()) {
            errors.push_back(child + ": is not a property this message has");
          } else {
            validate(extra, sub, child, errors);
          }
        }
      }
    }
    if (v.is_array()) {
      if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>())
        fail("must have at least " + s["minItems"].dump() + " items");
      if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>())
        fail("must have at most " + s["maxItems"].dump() + " items");
      if (s.contains("items")) {
        for (size_t i = 0; i < v.size(); ++i)
          validate(s["items"], v[i], at + "/" + std::to_string(i), errors);
      }
    }
    auto passes = [&](const nlohmann::json& sub) {
      std::vector<std::string> e;
      validate(sub, v, at, e);
      return e.empty();
    };
    if (s.contains("allOf")) {
      for (const auto& sub : s["allOf"]) validate(sub, v, at, errors);
    }
    if (s.contains("anyOf")) {
      bool any = false;
      for (const auto& sub : s["anyOf"]) any = any || passes(sub);
      if (!any) fail("matches none of anyOf");
    }
    if (s.contains("oneOf")) {
      int n = 0;
      for (const auto& sub : s["oneOf"]) n += passes(sub) ? 1 : 0;
      if (n != 1) fail("must match exactly one of oneOf, matches " + std::to_string(n));
    }
  }

  nlohmann::json root_;
  std::string origin_;
};

}  // namespace plexus::testing

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace plexus::testing {

// The schemas of a set of message types: every `<Type>.json` of the given directories (the
// in-tree plugins keep theirs in plugins/<name>/schemas/). A type with two schemas is an error.
class SchemaCatalogue {
 public:
  SchemaCatalogue() = default;
  explicit SchemaCatalogue(const std::vector<std::string>& dirs) {
    for (const auto& d : dirs) add(d);
  }

  void add(const std::string& dir) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) throw std::invalid_argument("no schema directory " + dir);
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() != ".json") continue;
      const std::string type = entry.path().stem().string();
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      nlohmann::json schema = nlohmann::json::parse(text.str(), nullptr, false);
      if (schema.is_discarded())
        throw std::invalid_argument(entry.path().string() + " is not valid JSON");
      auto [it, fresh] = schemas_.emplace(type, JsonSchema(schema, entry.path().string()));
      if (!fresh) {
        throw std::invalid_argument("two schemas for " + type + ": " + it->second.origin() +
                                    " and " + entry.path().string());
      }
    }
  }

  bool empty() const { return schemas_.empty(); }
  bool has(const std::string& type) const { return schemas_.count(type) > 0; }
  std::vector<std::string> types() const {
    std::vector<std::string> out;
    for (const auto& [t, s] : schemas_) out.push_back(t);
    return out;
  }
  const JsonSchema& at(const std::string& type) const { return schemas_.at(type); }

  // Violations of `payload` against the schema of `type`; a type without one is a violation too.
  std::vector<std::string> validate(const std::string& type, const nlohmann::json& payload) const {
    auto it = schemas_.find(type);
    if (it == schemas_.end()) return {"no schema for message type " + type + " in the catalogue"};
    std::vector<std::string> out;
    for (const auto& e : it->second.validate(payload)) out.push_back(type + " " + e);
    return out;
  }

 private:
  std::map<std::string, JsonSchema> schemas_;
};

}  // namespace plexus::testing
