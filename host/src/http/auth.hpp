#pragma once
// Optional bearer-token (JWT) validation per route group (http.auth): HS256 or RS256 through
// Poco JWT, then iss, aud, exp, nbf (with clock skew) and required scopes. `alg: none`, algorithms
// a group does not list, and key confusion (an HS256 token signed with the RS256 public key) are
// refused. /health, /health/* and /metrics are never checked: probes and scrapers carry no token;
// neither are the console's static files (publicAsset).

#include "config/config.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace plexus::http {

struct AuthResult {
  int status = 0;               // 0 = allowed; else 401 or 403
  std::string error;            // for the JSON body: {"error": "..."}
  std::string wwwAuthenticate;  // value of the WWW-Authenticate header (RFC 6750)
  std::string subject;          // `sub` of an accepted token (empty for unprotected paths)
};

class Authenticator {
 public:
  // Throws std::invalid_argument when a group's RS256 public key cannot be parsed.
  Authenticator(const config::Auth& auth, std::string realm);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  static bool exempt(const std::string& path);
  // The operator console's static files (/admin/console, /admin/console/, /admin/console/{file}):
  // they hold no data, so they load without a token; every data call the page makes sends one.
  // Still rate limited, unlike exempt() paths.
  static bool publicAsset(const std::string& path);

  // `authorization` is the raw Authorization header (empty when absent); `now` in Unix seconds.
  AuthResult check(const std::string& path, const std::string& authorization, int64_t now) const;

 private:
  struct Group;
  const Group* groupFor(const std::string& path) const;
  std::vector<std::unique_ptr<Group>> groups_;
  std::string realm_;
};

}  // namespace plexus::http
