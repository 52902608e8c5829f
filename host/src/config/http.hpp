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

// Request and connection limits (http.limits). Rate limiting is off while ratePerSecond is 0.
struct Limits {
  int maxHeaders = 64;             // more header fields: 431
  int maxHeaderBytes = 64 << 10;   // request line + fields: 414 (line) or 431 (fields) beyond
  int ratePerSecond = 0;           // per client; 0 = no rate limit
  int burst = 0;                   // bucket size; 0 = same as ratePerSecond
  int maxClients = 10000;          // bound of the client table (least recently seen evicted)
  bool trustForwardedFor = false;  // key by the last X-Forwarded-For entry (behind one proxy)
  // Open connections on the main port, in all and per client address; more are refused (503,
  // counted and logged). The total is lowered at start when the file-descriptor limit is lower.
  int maxConnections = 10000;
  int maxConnectionsPerClient = 256;
};

struct Http {
  std::string host = "0.0.0.0";
  int port = 8080;
  // GET /health, /health/ready and /metrics only, on a listener of their own with its own
  // workers (the main port serves them too). -1: no such listener; 0: any free port.
  int managementPort = -1;
  // Workers for complete requests on the main port (the front end's loop reads and writes). As
  // many as the store's default pool: more only wait for a session, and 64 of them on 16
  // sessions made bursts of requests of 0.5 to 10 s under load (docs/benchmarks.md).
  int threads = 16;
  int queue = 1024;                // requests waiting for a worker; more get 503
  int64_t maxBodyBytes = 1 << 20;  // 1 MiB
  int keepAliveSeconds = 10;       // idle time between requests on one connection
  // Whole-phase deadlines (not per read): the request head from its first byte (from the accept
  // for a new connection), the body from the end of the head, the handler from dispatch. The
  // first two answer 408 and close; the handler's answers 503 and closes.
  int headerTimeoutMs = 10000;
  int bodyTimeoutMs = 30000;  // also bounds writing the response
  int requestTimeoutMs = 30000;
  int shutdownDelayMs = 1000;  // keep answering (ready = 503) before closing the listener
  int drainSeconds = 20;       // then wait this long at most for in-flight requests
  Auth auth;
  Limits limits;
};

Http parseHttp(const Reader& r, const nlohmann::json& h);

}  // namespace plexus::config
