// Bearer-token validation: signatures (HS256, RS256), claims, clock skew, scopes, route groups,
// and the classic attacks (alg none, key confusion, tampering).
#include "http/auth.hpp"

#include "../../plugin/jwt_support.hpp"

#include <gtest/gtest.h>

namespace {

using nlohmann::json;
using plexus::http::Authenticator;
namespace jwt = plexus::test::jwt;

constexpr int64_t kNow = 1'800'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef-hs256";

const jwt::Rsa& rsa() {
  static const jwt::Rsa r = jwt::newRsa();
  return r;
}

plexus::config::AuthGroup group(const std::string& prefix, std::vector<std::string> algs) {
  plexus::config::AuthGroup g;
  g.prefix = prefix;
  g.issuer = "https://issuer.test";
  g.audience = "plexus-api";
  g.algorithms = std::move(algs);
  for (const auto& a : g.algorithms) {
    if (a == "HS256") g.hs256Secret = kSecret;
    if (a == "RS256") {
      g.rs256PublicKeyFile = "test.pem";
      g.rs256PublicKeyPem = rsa().publicPem;
    }
  }
  g.clockSkewSeconds = 30;
  return g;
}

json claims(json extra = json::object()) {
  json c{{"iss", "https://issuer.test"},
         {"aud", "plexus-api"},
         {"sub", "user-1"},
         {"exp", kNow + 300},
         {"iat", kNow}};
  for (auto it = extra.begin(); it != extra.end(); ++it) {
    if (it.value().is_null())
      c.erase(it.key());
    else
      c[it.key()] = it.value();
  }
  return c;
}

std::string bearer(const std::string& token) { return "Bearer " + token; }

class Auth : public ::testing::Test {
 protected:
  Auth() {
    plexus::config::Auth cfg;
    cfg.enabled = true;
    cfg.groups.push_back(group("/api", {"HS256", "RS256"}));
    auto admin = group("/api/admin", {"RS256"});
    admin.requiredScopes = {"plexus:admin"};
    cfg.groups.push_back(admin);
    auth_ = std::make_unique<Authenticator>(cfg, "svc");
  }
  plexus::http::AuthResult check(const std::string& path, const std::string& header,
                                 int64_t now = kNow) {
    return auth_->check(path, header, now);
  }
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(Auth, ValidHs256AndRs256TokensPass) {
  auto r = check("/api/orders", bearer(jwt::signHs256(claims(), kSecret)));
  EXPECT_EQ(r.status, 0) << r.error;
  EXPECT_EQ(r.subject, "user-1");
  r = check("/api/orders/7", bearer(jwt::signRs256(claims(), rsa())));
  EXPECT_EQ(r.status, 0) << r.error;
  // The scheme is case-insensitive; an audience array works when it lists ours.
  r = check("/api",
            "bearer " + jwt::signHs256(claims({{"aud", {"other", "plexus-api"}}}), kSecret));
  EXPECT_EQ(r.status, 0) << r.error;
}

TEST_F(Auth, HealthAndMetricsAreExemptAndOtherPrefixesOpen) {
  plexus::config::Auth cfg;
  cfg.enabled = true;
  cfg.groups.push_back(group("/", {"HS256"}));
  Authenticator all(cfg, "svc");
  for (const char* p : {"/health", "/health/ready", "/metrics"})
    EXPECT_EQ(all.check(p, "", kNow).status, 0) << p;
  EXPECT_EQ(all.check("/healthz", "", kNow).status, 401);
  EXPECT_EQ(all.check("/admin/dead-letters", "", kNow).status, 401);
  // Prefixes end at a segment boundary.
  EXPECT_EQ(check("/apix", "").status, 0);
  EXPECT_EQ(check("/public/thing", "").status, 0);
  EXPECT_EQ(check("/api", "").status, 401);
}

TEST_F(Auth, MissingOrMalformedTokenIs401WithChallenge) {
  auto r = check("/api/orders", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.error, "missing bearer token");
  EXPECT_EQ(r.wwwAuthenticate, "Bearer realm=\"svc\"");
  EXPECT_EQ(check("/api/orders", "Basic dXNlcjpwYXNz").status, 401);
  for (const char* bad : {"Bearer ", "Bearer abc", "Bearer a.b", "Bearer a.b.c", "Bearer a.b.c.d",
                          "Bearer !!!.???.***"}) {
    r = check("/api/orders", bad);
    EXPECT_EQ(r.status, 401) << bad;
    EXPECT_NE(r.wwwAuthenticate.find("error=\"invalid_token\""), std::string::npos) << bad;
  }
  r = check("/api/orders", bearer(std::string(9000, 'a')));
  EXPECT_EQ(r.status, 401);
}

TEST_F(Auth, AlgNoneIsRefused) {
  for (const char* alg : {"none", "None", "NONE"}) {
    const std::string t = jwt::unsignedToken({{"alg", alg}, {"typ", "JWT"}}, claims());
    EXPECT_EQ(check("/api/orders", bearer(t)).status, 401) << alg;
    EXPECT_EQ(check("/api/orders", bearer(t + "sig")).status, 401) << alg;
  }
}

TEST_F(Auth, KeyConfusionIsRefused) {
  // An HS256 token whose HMAC secret is the RS256 public key (public, so anyone can make one).
  const std::string forged = jwt::signHs256(claims(), rsa().publicPem);
  // Group with both algorithms: the HS256 path only knows its own secret.
  auto r = check("/api/orders", bearer(forged));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.error, "bad token signature");
  // RS256-only group: HS256 is not even considered.
  r = check("/api/admin/x", bearer(forged));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.error, "token algorithm not allowed");
  // An RS256 header over an HMAC signature made with the public key fails too.
  const std::string hs = jwt::signHs256(claims(), rsa().publicPem);
  const std::string relabelled =
      jwt::b64url(json{{"alg", "RS256"}, {"typ", "JWT"}}.dump()) + hs.substr(hs.find('.'));
  EXPECT_EQ(check("/api/orders", bearer(relabelled)).status, 401);
}

TEST_F(Auth, WrongKeyOrTamperedTokenIsRefused) {
  EXPECT_EQ(check("/api/x", bearer(jwt::signHs256(claims(), kSecret + "-other"))).error,
            "bad token signature");
  EXPECT_EQ(check("/api/x", bearer(jwt::signRs256(claims(), jwt::newRsa()))).error,
            "bad token signature");
  // Swap the claims of a valid token for others (sub changed): the signature no longer matches.
  const std::string good = jwt::signHs256(claims(), kSecret);
  const size_t d1 = good.find('.'), d2 = good.rfind('.');
  const std::string tampered =
      good.substr(0, d1 + 1) + jwt::b64url(claims({{"sub", "admin"}}).dump()) + good.substr(d2);
  EXPECT_EQ(check("/api/x", bearer(tampered)).error, "bad token signature");
  // Unknown critical header extensions are refused (RFC 7515 4.1.11).
  const std::string crit =
      jwt::unsignedToken({{"alg", "HS256"}, {"crit", {"x"}}}, claims()) + "c2ln";
  EXPECT_EQ(check("/api/x", bearer(crit)).status, 401);
}

TEST_F(Auth, IssuerAudienceAndTimesAreChecked) {
  auto err = [&](const json& extra, int64_t now = kNow) {
    return check("/api/x", bearer(jwt::signHs256(claims(extra), kSecret)), now).error;
  };
  EXPECT_EQ(err({{"iss", "https://evil.test"}}), "wrong token issuer");
  EXPECT_EQ(err({{"iss", nullptr}}), "wrong token issuer");
  EXPECT_EQ(err({{"aud", "someone-else"}}), "wrong token audience");
  EXPECT_EQ(err({{"aud", {"a", "b"}}}), "wrong token audience");
  EXPECT_EQ(err({{"aud", nullptr}}), "wrong token audience");
  EXPECT_EQ(err({{"exp", nullptr}}), "token has no expiry");
  EXPECT_EQ(err({{"exp", "tomorrow"}}), "token has no expiry");
  // exp with 30 s of skew: valid up to exp + 29, refused from exp + 30.
  EXPECT_EQ(err({}, kNow + 300 + 29), "");
  EXPECT_EQ(err({}, kNow + 300 + 30), "token expired");
  EXPECT_EQ(err({{"exp", kNow - 1000}}), "token expired");
  // nbf with the same skew.
  EXPECT_EQ(err({{"nbf", kNow + 30}}), "");
  EXPECT_EQ(err({{"nbf", kNow + 31}}), "token not yet valid");
  EXPECT_EQ(err({{"nbf", "soon"}}), "malformed token");
}

TEST_F(Auth, MissingScopeIs403) {
  const std::string path = "/api/admin/dead-letters";
  auto r = check(path, bearer(jwt::signRs256(claims({{"scope", "plexus:read"}}), rsa())));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.error, "insufficient scope");
  EXPECT_NE(r.wwwAuthenticate.find("error=\"insufficient_scope\", scope=\"plexus:admin\""),
            std::string::npos);
  r = check(path, bearer(jwt::signRs256(claims({{"scope", "plexus:read plexus:admin"}}), rsa())));
  EXPECT_EQ(r.status, 0) << r.error;
  r = check(path, bearer(jwt::signRs256(claims({{"scp", {"plexus:admin"}}}), rsa())));
  EXPECT_EQ(r.status, 0) << r.error;
  // An invalid token is 401 before any scope question.
  EXPECT_EQ(check(path, "").status, 401);
}

TEST(AuthKeys, UnreadablePublicKeyIsAnError) {
  plexus::config::Auth cfg;
  cfg.enabled = true;
  auto g = group("/api", {"RS256"});
  g.rs256PublicKeyPem = "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n";
  cfg.groups.push_back(g);
  EXPECT_THROW(Authenticator(cfg, "svc"), std::invalid_argument);
}

}  // namespace
