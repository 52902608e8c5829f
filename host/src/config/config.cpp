#include "config/config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace plexus::config {
namespace {

using nlohmann::json;

// Walks the document with the current JSON pointer so every error names its place.
class Reader {
 public:
  Reader(std::string file, const Env& env) : file_(std::move(file)), env_(env) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    throw ConfigError(file_, path, message);
  }

  static std::string describe(const json& v) {
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

  void expectObject(const json& v, const std::string& path, const std::set<std::string>& allowed,
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

  std::string string(const json& v, const std::string& path) const {
    if (!v.is_string()) fail(path, "expected a string, got " + describe(v));
    try {
      return expand(v.get<std::string>(), env_);
    } catch (const std::invalid_argument& e) {
      fail(path, e.what());
    }
  }

  // Integers may come as numbers or as strings (for ${VAR} expansion), always whole and in range.
  int64_t integer(const json& v, const std::string& path, int64_t min, int64_t max) const {
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
      fail(path, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                     ", got " + std::to_string(value));
    }
    return value;
  }

  // Booleans may come as JSON booleans or as the strings "true"/"false" (for ${VAR} expansion).
  bool boolean(const json& v, const std::string& path) const {
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_string()) {
      const std::string s = string(v, path);
      if (s == "true") return true;
      if (s == "false") return false;
      fail(path, "expected true or false, got \"" + s + "\"");
    }
    fail(path, "expected a boolean, got " + describe(v));
  }

  std::vector<std::string> strings(const json& v, const std::string& path) const {
    if (!v.is_array()) fail(path, "expected an array, got " + describe(v));
    std::vector<std::string> out;
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(string(v[i], path + "/" + std::to_string(i)));
    return out;
  }

  std::string oneOf(const json& v, const std::string& path,
                    const std::set<std::string>& choices) const {
    const std::string s = string(v, path);
    if (choices.count(s) == 0) {
      std::string list;
      for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
      fail(path, "must be one of " + list + ", got \"" + s + "\"");
    }
    return s;
  }

  // Expands strings inside a plugin's free-form config object.
  json expandTree(const json& v, const std::string& path) const {
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

 private:
  std::string file_;
  const Env& env_;
};

bool validServiceName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

bool validSha256(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A key file: a regular file of bounded size (never a device or a FIFO that would block or
// never end).
std::string readFile(const Reader& r, const std::string& file, const std::string& path) {
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

// http.auth: opt-in bearer-token validation per path prefix.
Auth parseAuth(const Reader& r, const json& a) {
  r.expectObject(a, "/http/auth", {"enabled", "groups"}, {});
  Auth auth;
  if (a.contains("enabled")) auth.enabled = r.boolean(a["enabled"], "/http/auth/enabled");
  if (!a.contains("groups")) {
    if (auth.enabled) r.fail("/http/auth/groups", "required when auth is enabled");
    return auth;
  }
  const json& groups = a["groups"];
  if (!groups.is_array())
    r.fail("/http/auth/groups", "expected an array, got " + Reader::describe(groups));
  if (auth.enabled && groups.empty())
    r.fail("/http/auth/groups", "must not be empty when auth is enabled");
  std::set<std::string> prefixes;
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string path = "/http/auth/groups/" + std::to_string(i);
    const json& g = groups[i];
    r.expectObject(g, path,
                   {"prefix", "issuer", "audience", "algorithms", "hs256_secret",
                    "rs256_public_key_file", "clock_skew_seconds", "required_scopes"},
                   {"prefix", "issuer", "audience", "algorithms"});
    AuthGroup grp;
    grp.prefix = r.string(g["prefix"], path + "/prefix");
    if (grp.prefix.empty() || grp.prefix[0] != '/')
      r.fail(path + "/prefix", "must start with '/', got \"" + grp.prefix + "\"");
    if (grp.prefix.size() > 1 && grp.prefix.back() == '/') grp.prefix.pop_back();
    if (!prefixes.insert(grp.prefix).second)
      r.fail(path + "/prefix", "prefix \"" + grp.prefix + "\" is listed twice");
    grp.issuer = r.string(g["issuer"], path + "/issuer");
    if (grp.issuer.empty()) r.fail(path + "/issuer", "must not be empty");
    grp.audience = r.string(g["audience"], path + "/audience");
    if (grp.audience.empty()) r.fail(path + "/audience", "must not be empty");
    grp.algorithms = r.strings(g["algorithms"], path + "/algorithms");
    if (grp.algorithms.empty()) r.fail(path + "/algorithms", "must not be empty");
    bool hs = false, rs = false;
    for (size_t k = 0; k < grp.algorithms.size(); ++k) {
      const std::string& alg = grp.algorithms[k];
      if (alg == "HS256") {
        hs = true;
      } else if (alg == "RS256") {
        rs = true;
      } else {
        r.fail(path + "/algorithms/" + std::to_string(k),
               "must be HS256 or RS256, got \"" + alg + "\"");
      }
    }
    if (g.contains("hs256_secret"))
      grp.hs256Secret = r.string(g["hs256_secret"], path + "/hs256_secret");
    if (g.contains("rs256_public_key_file"))
      grp.rs256PublicKeyFile =
          r.string(g["rs256_public_key_file"], path + "/rs256_public_key_file");
    if (hs && grp.hs256Secret.size() < 32)
      r.fail(path + "/hs256_secret", "HS256 needs a secret of at least 32 bytes");
    if (!hs && !grp.hs256Secret.empty())
      r.fail(path + "/hs256_secret", "given, but HS256 is not in algorithms");
    if (rs && grp.rs256PublicKeyFile.empty())
      r.fail(path + "/rs256_public_key_file", "required with RS256");
    if (!rs && !grp.rs256PublicKeyFile.empty())
      r.fail(path + "/rs256_public_key_file", "given, but RS256 is not in algorithms");
    if (rs) {
      grp.rs256PublicKeyPem = readFile(r, grp.rs256PublicKeyFile, path + "/rs256_public_key_file");
      if (grp.rs256PublicKeyPem.find("PRIVATE KEY") != std::string::npos)
        r.fail(path + "/rs256_public_key_file", "holds a private key; give the public key only");
      // Key confusion: the public key must never work as an HMAC secret.
      if (hs && grp.rs256PublicKeyPem.find(grp.hs256Secret) != std::string::npos)
        r.fail(path + "/hs256_secret", "must not be (part of) the RS256 public key");
    }
    if (g.contains("clock_skew_seconds")) {
      grp.clockSkewSeconds = static_cast<int>(
          r.integer(g["clock_skew_seconds"], path + "/clock_skew_seconds", 0, 600));
    }
    if (g.contains("required_scopes"))
      grp.requiredScopes = r.strings(g["required_scopes"], path + "/required_scopes");
    auth.groups.push_back(std::move(grp));
  }
  return auth;
}

Limits parseLimits(const Reader& r, const json& l) {
  r.expectObject(l, "/http/limits",
                 {"max_headers", "rate_per_second", "burst", "max_clients", "trust_forwarded_for"},
                 {});
  Limits out;
  if (l.contains("max_headers"))
    out.maxHeaders =
        static_cast<int>(r.integer(l["max_headers"], "/http/limits/max_headers", 1, 100));
  if (l.contains("rate_per_second")) {
    out.ratePerSecond = static_cast<int>(
        r.integer(l["rate_per_second"], "/http/limits/rate_per_second", 0, 1000000));
  }
  if (l.contains("burst"))
    out.burst = static_cast<int>(r.integer(l["burst"], "/http/limits/burst", 0, 1000000));
  if (l.contains("max_clients")) {
    out.maxClients =
        static_cast<int>(r.integer(l["max_clients"], "/http/limits/max_clients", 1, 10000000));
  }
  if (l.contains("trust_forwarded_for"))
    out.trustForwardedFor = r.boolean(l["trust_forwarded_for"], "/http/limits/trust_forwarded_for");
  if (out.burst == 0) out.burst = out.ratePerSecond;
  return out;
}

TransportTls parseTransportTls(const Reader& r, const json& t) {
  r.expectObject(t, "/transport/tls",
                 {"ca_file", "cert_file", "key_file", "verify_peer", "verify_hostname"}, {});
  TransportTls tls;
  if (t.contains("ca_file")) tls.caFile = r.string(t["ca_file"], "/transport/tls/ca_file");
  if (t.contains("cert_file")) tls.certFile = r.string(t["cert_file"], "/transport/tls/cert_file");
  if (t.contains("key_file")) tls.keyFile = r.string(t["key_file"], "/transport/tls/key_file");
  if (t.contains("verify_peer"))
    tls.verifyPeer = r.boolean(t["verify_peer"], "/transport/tls/verify_peer");
  if (t.contains("verify_hostname"))
    tls.verifyHostname = r.boolean(t["verify_hostname"], "/transport/tls/verify_hostname");
  if (tls.certFile.empty() != tls.keyFile.empty()) {
    r.fail(tls.certFile.empty() ? "/transport/tls/cert_file" : "/transport/tls/key_file",
           "cert_file and key_file go together");
  }
  return tls;
}

}  // namespace

Env processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

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
    const size_t close = text.find('}', i + 2);
    if (close == std::string::npos)
      throw std::invalid_argument("unterminated ${ in \"" + text + "\"");
    const std::string inner = text.substr(i + 2, close - i - 2);
    const size_t sep = inner.find(":-");
    const std::string name = inner.substr(0, sep);
    if (name.empty()) throw std::invalid_argument("empty variable name in \"" + text + "\"");
    for (char n : name) {
      if (!((n >= 'A' && n <= 'Z') || (n >= 'a' && n <= 'z') || (n >= '0' && n <= '9') ||
            n == '_')) {
        throw std::invalid_argument("invalid variable name \"" + name + "\"");
      }
    }
    const std::optional<std::string> value = env(name);
    if (sep != std::string::npos) {
      out += (value && !value->empty()) ? *value : inner.substr(sep + 2);
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

Config parse(const std::string& text, const std::string& file, const Env& env) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    // Not only parse_error: a number too large for a double is out_of_range (found by tests/fuzz).
    throw ConfigError(file, "", std::string("malformed JSON: ") + e.what());
  }
  Reader r(file, env);
  r.expectObject(doc, "", {"service", "http", "store", "transport", "plugin_dir", "plugins", "log"},
                 {"service", "plugins"});

  Config c;
  c.file = file;
  c.service = r.string(doc["service"], "/service");
  if (!validServiceName(c.service)) {
    r.fail("/service", "must be 1-63 characters of a-z, 0-9 and '-', got \"" + c.service + "\"");
  }

  if (doc.contains("http")) {
    const json& h = doc["http"];
    r.expectObject(h, "/http",
                   {"host", "port", "threads", "queue", "max_body_bytes", "keep_alive_seconds",
                    "shutdown_delay_ms", "drain_seconds", "auth", "limits"},
                   {});
    if (h.contains("host")) c.http.host = r.string(h["host"], "/http/host");
    if (h.contains("port"))
      c.http.port = static_cast<int>(r.integer(h["port"], "/http/port", 0, 65535));
    if (h.contains("threads"))
      c.http.threads = static_cast<int>(r.integer(h["threads"], "/http/threads", 1, 4096));
    if (h.contains("queue"))
      c.http.queue = static_cast<int>(r.integer(h["queue"], "/http/queue", 1, 1 << 20));
    if (h.contains("max_body_bytes")) {
      c.http.maxBodyBytes =
          r.integer(h["max_body_bytes"], "/http/max_body_bytes", 1, int64_t{1} << 30);
    }
    if (h.contains("keep_alive_seconds")) {
      c.http.keepAliveSeconds =
          static_cast<int>(r.integer(h["keep_alive_seconds"], "/http/keep_alive_seconds", 1, 3600));
    }
    if (h.contains("shutdown_delay_ms")) {
      c.http.shutdownDelayMs =
          static_cast<int>(r.integer(h["shutdown_delay_ms"], "/http/shutdown_delay_ms", 0, 600000));
    }
    if (h.contains("drain_seconds")) {
      c.http.drainSeconds =
          static_cast<int>(r.integer(h["drain_seconds"], "/http/drain_seconds", 0, 3600));
    }
    if (h.contains("auth")) c.http.auth = parseAuth(r, h["auth"]);
    if (h.contains("limits")) c.http.limits = parseLimits(r, h["limits"]);
  }

  if (doc.contains("store")) {
    const json& s = doc["store"];
    r.expectObject(s, "/store", {"kind", "url", "schema", "pool_size"}, {"kind"});
    c.store.kind = r.oneOf(s["kind"], "/store/kind", {"sqlite", "postgres"});
    if (s.contains("url")) c.store.url = r.string(s["url"], "/store/url");
    if (s.contains("schema")) c.store.schema = r.string(s["schema"], "/store/schema");
    if (s.contains("pool_size"))
      c.store.poolSize = static_cast<int>(r.integer(s["pool_size"], "/store/pool_size", 1, 256));
    if (c.store.url.empty()) r.fail("/store/url", "must not be empty");
  }

  if (doc.contains("transport")) {
    const json& t = doc["transport"];
    r.expectObject(
        t, "/transport",
        {"kind", "url", "workers", "max_attempts", "retry_initial_ms", "retry_max_ms",
         "poll_interval_ms", "stall_seconds", "partitions", "prefetch", "retention_hours", "tls"},
        {"kind"});
    c.transport.kind = r.oneOf(t["kind"], "/transport/kind", {"inproc", "rabbitmq"});
    if (t.contains("url")) c.transport.url = r.string(t["url"], "/transport/url");
    auto num = [&](const char* key, int& out, int64_t min, int64_t max) {
      if (t.contains(key))
        out = static_cast<int>(r.integer(t[key], std::string("/transport/") + key, min, max));
    };
    num("workers", c.transport.workers, 1, 64);
    num("max_attempts", c.transport.maxAttempts, 1, 100);
    num("retry_initial_ms", c.transport.retryInitialMs, 1, 3600000);
    num("retry_max_ms", c.transport.retryMaxMs, 1, 86400000);
    num("poll_interval_ms", c.transport.pollIntervalMs, 10, 600000);
    num("stall_seconds", c.transport.stallSeconds, 1, 86400);
    num("partitions", c.transport.partitions, 1, 64);
    num("prefetch", c.transport.prefetch, 1, 10000);
    num("retention_hours", c.transport.retentionHours, 1, 8760);
    if (c.transport.kind == "rabbitmq" && c.transport.url.empty()) {
      r.fail("/transport/url", "required when kind is rabbitmq");
    }
    if (t.contains("tls")) {
      c.transport.tls = parseTransportTls(r, t["tls"]);
      if (c.transport.url.rfind("amqps://", 0) != 0)
        r.fail("/transport/tls", "only applies to an amqps:// url");
    }
  }

  if (!c.transport.kind.empty() && c.store.kind.empty()) {
    r.fail("/transport", "a transport needs a store (outbox and inbox live in it)");
  }
  if (c.transport.kind.empty() && !c.store.kind.empty()) c.transport.kind = "inproc";

  if (doc.contains("log")) {
    const json& l = doc["log"];
    r.expectObject(l, "/log", {"level"}, {});
    if (l.contains("level"))
      c.logLevel = r.oneOf(l["level"], "/log/level", {"debug", "info", "warn", "error"});
  }

  c.pluginDir =
      doc.contains("plugin_dir") ? r.string(doc["plugin_dir"], "/plugin_dir") : std::string(".");
  if (c.pluginDir.empty()) r.fail("/plugin_dir", "must not be empty");
  c.pluginDirGiven = doc.contains("plugin_dir");

  const json& plugins = doc["plugins"];
  if (!plugins.is_array())
    r.fail("/plugins", "expected an array, got " + Reader::describe(plugins));
  std::set<std::string> seen;
  for (size_t i = 0; i < plugins.size(); ++i) {
    const std::string path = "/plugins/" + std::to_string(i);
    const json& p = plugins[i];
    r.expectObject(p, path, {"library", "sha256", "components", "config"}, {"library"});
    Plugin pl;
    pl.index = i;
    pl.library = r.string(p["library"], path + "/library");
    if (pl.library.empty()) r.fail(path + "/library", "must not be empty");
    namespace fs = std::filesystem;
    fs::path lib(pl.library);
    pl.path = (pl.library.find('/') != std::string::npos ? lib : fs::path(c.pluginDir) / lib)
                  .lexically_normal()
                  .string();
    if (!seen.insert(pl.path).second)
      r.fail(path + "/library", "plugin \"" + pl.library + "\" is listed twice");
    if (p.contains("sha256")) {
      std::string h = r.string(p["sha256"], path + "/sha256");
      for (char& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (!validSha256(h)) r.fail(path + "/sha256", "expected 64 hexadecimal digits");
      pl.sha256 = h;
    }
    if (p.contains("components")) {
      const json& comps = p["components"];
      if (!comps.is_array())
        r.fail(path + "/components", "expected an array, got " + Reader::describe(comps));
      for (size_t k = 0; k < comps.size(); ++k) {
        pl.components.push_back(r.string(comps[k], path + "/components/" + std::to_string(k)));
      }
      if (pl.components.empty())
        r.fail(path + "/components", "must not be empty (omit it to enable every component)");
    }
    if (p.contains("config")) {
      if (!p["config"].is_object()) {
        r.fail(path + "/config", "expected an object, got " + Reader::describe(p["config"]));
      }
      pl.config = r.expandTree(p["config"], path + "/config");
    }
    c.plugins.push_back(std::move(pl));
  }
  return c;
}

Config load(const std::string& file, const Env& env) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(file, "", "cannot read the file");
  std::ostringstream buf;
  buf << in.rdbuf();
  return parse(buf.str(), file, env);
}

}  // namespace plexus::config
