#pragma once
// The `http` section: listener, limits, auth.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace plexus::config {

class Reader;

// Bearer-token (JWT) validation for requests whose path starts with `prefix` (http.auth).
struct AuthGroup {
  std::string prefix;                       // "/" or a path prefix ending at a segment boundary
  std::string issuer;                       // required `iss`
  std::string audience;                     // required member of `aud`
  std::vector<std::string> algorithms;      // subset of HS256, RS256
  std::string hs256Secret;                  // required with HS256 (at least 32 bytes)
  std::string rs256PublicKeyFile;           // required with RS256
  std::string rs256PublicKeyPem;            // its content, read while loading the config
  int clockSkewSeconds = 60;                // leeway for exp and nbf
  std::vector<std::string> requiredScopes;  // all must be in `scope` (or `scp`), else 403
};

struct Auth {
  bool enabled = false;
  std::vector<AuthGroup> groups;  // longest matching prefix wins
};

// Request limits (http.limits). Rate limiting is off while ratePerSecond is 0.
struct Limits {
  int maxHeaders = 64;             // more header fields: 431 (Poco itself refuses > 100 with 400)
  int ratePerSecond = 0;           // per client; 0 = no rate limit
  int burst = 0;                   // bucket size; 0 = same as ratePerSecond
  int maxClients = 10000;          // bound of the client table (least recently seen evicted)
  bool trustForwardedFor = false;  // key by the last X-Forwarded-For entry (behind one proxy)
};

struct Http {
  std::string host = "0.0.0.0";
  int port = 8080;
  int threads = 64;                // Poco's default is 16
  int queue = 1024;                // Poco's default is 64
  int64_t maxBodyBytes = 1 << 20;  // 1 MiB
  int keepAliveSeconds = 10;
  int shutdownDelayMs = 1000;  // keep answering (ready = 503) before closing the listener
  int drainSeconds = 20;       // then wait this long at most for in-flight requests
  Auth auth;
  Limits limits;
};

Http parseHttp(const Reader& r, const nlohmann::json& h);

}  // namespace plexus::config
