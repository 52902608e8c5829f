#include "config/http.hpp"

#include "config/reader.hpp"

#include <nlohmann/json.hpp>

namespace plexus::config {
namespace {

using nlohmann::json;

// HS256 needs a secret of its own; RS256 a public key file that is not also the secret.
void parseKeys(const Reader& r, const json& g, const std::string& path, AuthGroup& grp) {
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
    grp.rs256PublicKeyFile = r.string(g["rs256_public_key_file"], path + "/rs256_public_key_file");
  if (hs && grp.hs256Secret.size() < 32)
    r.fail(path + "/hs256_secret", "HS256 needs a secret of at least 32 bytes");
  if (!hs && !grp.hs256Secret.empty())
    r.fail(path + "/hs256_secret", "given, but HS256 is not in algorithms");
  if (rs && grp.rs256PublicKeyFile.empty())
    r.fail(path + "/rs256_public_key_file", "required with RS256");
  if (!rs && !grp.rs256PublicKeyFile.empty())
    r.fail(path + "/rs256_public_key_file", "given, but RS256 is not in algorithms");
  if (!rs) return;
  grp.rs256PublicKeyPem = readSmallFile(r, grp.rs256PublicKeyFile, path + "/rs256_public_key_file");
  if (grp.rs256PublicKeyPem.find("PRIVATE KEY") != std::string::npos)
    r.fail(path + "/rs256_public_key_file", "holds a private key; give the public key only");
  // Key confusion: the public key must never work as an HMAC secret.
  if (hs && grp.rs256PublicKeyPem.find(grp.hs256Secret) != std::string::npos)
    r.fail(path + "/hs256_secret", "must not be (part of) the RS256 public key");
}

AuthGroup parseAuthGroup(const Reader& r, const json& g, const std::string& path) {
  r.expectObject(g, path,
                 {"prefix", "issuer", "audience", "algorithms", "hs256_secret",
                  "rs256_public_key_file", "clock_skew_seconds", "required_scopes"},
                 {"prefix", "issuer", "audience", "algorithms"});
  AuthGroup grp;
  grp.prefix = r.string(g["prefix"], path + "/prefix");
  if (grp.prefix.empty() || grp.prefix[0] != '/')
    r.fail(path + "/prefix", "must start with '/', got \"" + grp.prefix + "\"");
  if (grp.prefix.size() > 1 && grp.prefix.back() == '/') grp.prefix.pop_back();
  grp.issuer = r.string(g["issuer"], path + "/issuer");
  if (grp.issuer.empty()) r.fail(path + "/issuer", "must not be empty");
  grp.audience = r.string(g["audience"], path + "/audience");
  if (grp.audience.empty()) r.fail(path + "/audience", "must not be empty");
  grp.algorithms = r.strings(g["algorithms"], path + "/algorithms");
  if (grp.algorithms.empty()) r.fail(path + "/algorithms", "must not be empty");
  parseKeys(r, g, path, grp);
  r.optionalInt(g, path, "clock_skew_seconds", grp.clockSkewSeconds, 0, 600);
  if (g.contains("required_scopes"))
    grp.requiredScopes = r.strings(g["required_scopes"], path + "/required_scopes");
  return grp;
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
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string path = "/http/auth/groups/" + std::to_string(i);
    AuthGroup grp = parseAuthGroup(r, groups[i], path);
    for (const auto& other : auth.groups) {
      if (other.prefix == grp.prefix)
        r.fail(path + "/prefix", "prefix \"" + grp.prefix + "\" is listed twice");
    }
    auth.groups.push_back(std::move(grp));
  }
  return auth;
}

Limits parseLimits(const Reader& r, const json& l) {
  const std::string base = "/http/limits";
  r.expectObject(l, base,
                 {"max_headers", "max_header_bytes", "rate_per_second", "burst", "max_clients",
                  "trust_forwarded_for", "max_connections", "max_connections_per_client"},
                 {});
  Limits out;
  r.optionalInt(l, base, "max_headers", out.maxHeaders, 1, 100);
  r.optionalInt(l, base, "max_header_bytes", out.maxHeaderBytes, 1024, 1 << 20);
  r.optionalInt(l, base, "max_connections", out.maxConnections, 1, 1000000);
  r.optionalInt(l, base, "max_connections_per_client", out.maxConnectionsPerClient, 1, 1000000);
  r.optionalInt(l, base, "rate_per_second", out.ratePerSecond, 0, 1000000);
  r.optionalInt(l, base, "burst", out.burst, 0, 1000000);
  r.optionalInt(l, base, "max_clients", out.maxClients, 1, 10000000);
  if (l.contains("trust_forwarded_for"))
    out.trustForwardedFor = r.boolean(l["trust_forwarded_for"], base + "/trust_forwarded_for");
  if (out.burst == 0) out.burst = out.ratePerSecond;
  if (out.maxConnectionsPerClient > out.maxConnections)
    r.fail(base + "/max_connections_per_client",
           "must not exceed max_connections (" + std::to_string(out.maxConnections) + ")");
  return out;
}

}  // namespace

Http parseHttp(const Reader& r, const json& h) {
  const std::string base = "/http";
  r.expectObject(h, base,
                 {"host", "port", "management_port", "threads", "queue", "max_body_bytes",
                  "keep_alive_seconds", "header_timeout_ms", "body_timeout_ms",
                  "request_timeout_ms", "shutdown_delay_ms", "drain_seconds", "auth", "limits"},
                 {});
  Http out;
  if (h.contains("host")) out.host = r.string(h["host"], base + "/host");
  r.optionalInt(h, base, "port", out.port, 0, 65535);
  r.optionalInt(h, base, "management_port", out.managementPort, 0, 65535);
  if (out.managementPort > 0 && out.managementPort == out.port)
    r.fail(base + "/management_port", "must differ from port (" + std::to_string(out.port) + ")");
  r.optionalInt(h, base, "threads", out.threads, 1, 4096);
  r.optionalInt(h, base, "queue", out.queue, 1, 1 << 20);
  if (h.contains("max_body_bytes"))
    out.maxBodyBytes =
        r.integer(h["max_body_bytes"], base + "/max_body_bytes", 1, int64_t{1} << 30);
  r.optionalInt(h, base, "keep_alive_seconds", out.keepAliveSeconds, 1, 3600);
  r.optionalInt(h, base, "header_timeout_ms", out.headerTimeoutMs, 100, 600000);
  r.optionalInt(h, base, "body_timeout_ms", out.bodyTimeoutMs, 100, 3600000);
  r.optionalInt(h, base, "request_timeout_ms", out.requestTimeoutMs, 100, 3600000);
  r.optionalInt(h, base, "shutdown_delay_ms", out.shutdownDelayMs, 0, 600000);
  r.optionalInt(h, base, "drain_seconds", out.drainSeconds, 0, 3600);
  if (h.contains("auth")) out.auth = parseAuth(r, h["auth"]);
  if (h.contains("limits")) out.limits = parseLimits(r, h["limits"]);
  return out;
}

}  // namespace plexus::config
