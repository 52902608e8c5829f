#include "http/auth.hpp"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/Exception.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace plexus::http {

struct Authenticator::Group {
  config::AuthGroup cfg;
  // One signer per algorithm, each holding only its own key: an HS256 token is never checked
  // against the RSA key and an RS256 token never against the HMAC secret.
  std::optional<Poco::JWT::Signer> hs256;
  std::optional<Poco::JWT::Signer> rs256;
};

namespace {

using nlohmann::json;

// Tokens are a few hundred bytes; anything far larger is not ours.
constexpr size_t kMaxTokenBytes = 8192;

std::optional<std::string> base64UrlDecode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) return std::nullopt;  // padding and the standard alphabet are not base64url
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<json> decodePart(const std::string& part) {
  const auto raw = base64UrlDecode(part);
  if (!raw) return std::nullopt;
  json j = json::parse(*raw, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

bool numericDate(const json& claims, const char* name, int64_t& out) {
  const auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return false;
  const double v = it->get<double>();
  if (!std::isfinite(v) || std::fabs(v) > 1e15) return false;
  out = static_cast<int64_t>(v);
  return true;
}

std::vector<std::string> scopesOf(const json& claims) {
  std::vector<std::string> out;
  auto addWords = [&](const std::string& s) {
    std::istringstream in(s);
    std::string w;
    while (in >> w) out.push_back(w);
  };
  for (const char* name : {"scope", "scp"}) {
    const auto it = claims.find(name);
    if (it == claims.end()) continue;
    if (it->is_string()) addWords(it->get<std::string>());
    if (it->is_array()) {
      for (const auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

bool startsWithPrefix(const std::string& path, const std::string& prefix) {
  if (prefix == "/") return true;
  return path.compare(0, prefix.size(), prefix) == 0 &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

}  // namespace

Authenticator::Authenticator(const config::Auth& auth, std::string realm)
    : realm_(std::move(realm)) {
  for (const auto& g : auth.groups) {
    auto group = std::make_unique<Group>();
    group->cfg = g;
    for (const auto& alg : g.algorithms) {
      if (alg == "HS256") {
        group->hs256.emplace();
        group->hs256->setAlgorithms({Poco::JWT::Signer::ALGO_HS256});
        group->hs256->setHMACKey(g.hs256Secret);
      } else if (alg == "RS256") {
        try {
          std::istringstream pem(g.rs256PublicKeyPem);
          Poco::SharedPtr<Poco::Crypto::RSAKey> key(new Poco::Crypto::RSAKey(&pem));
          group->rs256.emplace();
          group->rs256->setAlgorithms({Poco::JWT::Signer::ALGO_RS256});
          group->rs256->setRSAKey(key);
        } catch (const Poco::Exception& e) {
          throw std::invalid_argument("http.auth group " + g.prefix +
                                      ": cannot read the RS256 public key " + g.rs256PublicKeyFile +
                                      ": " + e.displayText());
        }
      }
    }
    groups_.push_back(std::move(group));
  }
  // Longest prefix first, so the most specific group decides.
  std::sort(groups_.begin(), groups_.end(), [](const auto& a, const auto& b) {
    return a->cfg.prefix.size() > b->cfg.prefix.size();
  });
}

Authenticator::~Authenticator() = default;

bool Authenticator::exempt(const std::string& path) {
  return path == "/health" || path.rfind("/health/", 0) == 0 || path == "/metrics";
}

bool Authenticator::publicAsset(const std::string& path) {
  static const std::string kPrefix = "/admin/console";
  if (path.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  const std::string rest = path.substr(kPrefix.size());
  if (rest.empty() || rest == "/") return true;
  // One file name: no further '/', no escapes, no dot segments.
  if (rest[0] != '/' || rest.size() > 65 || rest[1] == '.') return false;
  for (size_t i = 1; i < rest.size(); ++i) {
    const char c = rest[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

const Authenticator::Group* Authenticator::groupFor(const std::string& path) const {
  for (const auto& g : groups_)
    if (startsWithPrefix(path, g->cfg.prefix)) return g.get();
  return nullptr;
}

AuthResult Authenticator::check(const std::string& path, const std::string& authorization,
                                int64_t now) const {
  AuthResult r;
  if (exempt(path) || publicAsset(path)) return r;
  const Group* group = groupFor(path);
  if (group == nullptr) return r;

  const std::string challenge = "Bearer realm=\"" + realm_ + "\"";
  auto unauthorized = [&](const std::string& why) {
    r.status = 401;
    r.error = why;
    r.wwwAuthenticate = challenge + ", error=\"invalid_token\", error_description=\"" + why + "\"";
    return r;
  };

  // "Bearer <token>", scheme case-insensitive (RFC 7235).
  std::string scheme = authorization.substr(0, 7);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (authorization.empty() || scheme != "bearer ") {
    r.status = 401;
    r.error = "missing bearer token";
    r.wwwAuthenticate = challenge;
    return r;
  }
  std::string token = authorization.substr(7);
  while (!token.empty() && token.front() == ' ') token.erase(0, 1);
  while (!token.empty() && token.back() == ' ') token.pop_back();
  if (token.empty() || token.size() > kMaxTokenBytes) return unauthorized("malformed token");

  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string::npos || token.find('.', dot2 + 1) != std::string::npos ||
      dot2 + 1 == token.size()) {
    return unauthorized("malformed token");  // also an unsigned token with an empty signature
  }
  const auto header = decodePart(token.substr(0, dot1));
  const auto claims = decodePart(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!header || !claims) return unauthorized("malformed token");
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return unauthorized("malformed token");
  if (header->contains("crit")) return unauthorized("unsupported token header");

  // Only the algorithms the group lists, each with its own key; "none" is never listed.
  const Poco::JWT::Signer* signer = nullptr;
  if (*alg == "HS256" && group->hs256) signer = &*group->hs256;
  if (*alg == "RS256" && group->rs256) signer = &*group->rs256;
  if (signer == nullptr) return unauthorized("token algorithm not allowed");
  try {
    Poco::JWT::Token verified;
    if (!signer->tryVerify(token, verified)) return unauthorized("bad token signature");
  } catch (const Poco::Exception&) {
    return unauthorized("bad token signature");
  }

  const config::AuthGroup& cfg = group->cfg;
  const auto iss = claims->find("iss");
  if (iss == claims->end() || !iss->is_string() || *iss != cfg.issuer)
    return unauthorized("wrong token issuer");
  bool audienceOk = false;
  const auto aud = claims->find("aud");
  if (aud != claims->end()) {
    if (aud->is_string()) audienceOk = *aud == cfg.audience;
    if (aud->is_array())
      for (const auto& a : *aud) audienceOk = audienceOk || (a.is_string() && a == cfg.audience);
  }
  if (!audienceOk) return unauthorized("wrong token audience");
  int64_t exp = 0;
  if (!numericDate(*claims, "exp", exp)) return unauthorized("token has no expiry");
  if (now >= exp + cfg.clockSkewSeconds) return unauthorized("token expired");
  int64_t nbf = 0;
  if (claims->contains("nbf")) {
    if (!numericDate(*claims, "nbf", nbf)) return unauthorized("malformed token");
    if (now + cfg.clockSkewSeconds < nbf) return unauthorized("token not yet valid");
  }

  if (!cfg.requiredScopes.empty()) {
    const auto have = scopesOf(*claims);
    std::string need;
    bool missing = false;
    for (const auto& s : cfg.requiredScopes) {
      need += (need.empty() ? "" : " ") + s;
      if (std::find(have.begin(), have.end(), s) == have.end()) missing = true;
    }
    if (missing) {
      r.status = 403;
      r.error = "insufficient scope";
      r.wwwAuthenticate = challenge + ", error=\"insufficient_scope\", scope=\"" + need + "\"";
      return r;
    }
  }
  const auto sub = claims->find("sub");
  if (sub != claims->end() && sub->is_string()) r.subject = sub->get<std::string>();
  return r;
}

}  // namespace plexus::http
