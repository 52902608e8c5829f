#pragma once
// Test-side JWT minting for the auth tests (unit and plugin tier): tokens signed with Poco JWT, and
// hand-built ones (alg none, forged headers) that a real signer would not produce.

#include <Poco/Crypto/RSAKey.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>

namespace plexus::test::jwt {

inline std::string b64url(const std::string& in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(abc[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(abc[(acc << (6 - bits)) & 63]);
  return out;
}

// An RSA key pair and its public key as PEM text (what rs256_public_key_file holds).
struct Rsa {
  Poco::SharedPtr<Poco::Crypto::RSAKey> key;
  std::string publicPem;
};
inline Rsa newRsa() {
  Rsa r;
  r.key = new Poco::Crypto::RSAKey(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE);
  std::ostringstream pub;
  r.key->save(&pub);
  r.publicPem = pub.str();
  return r;
}

// "<header>.<claims>." with the given header, unsigned (for alg none and forgeries).
inline std::string unsignedToken(const nlohmann::json& header, const nlohmann::json& claims) {
  return b64url(header.dump()) + "." + b64url(claims.dump()) + ".";
}

inline std::string signHs256(const nlohmann::json& claims, const std::string& secret) {
  Poco::JWT::Token t;
  t = unsignedToken({{"typ", "JWT"}}, claims);
  Poco::JWT::Signer s;
  s.setHMACKey(secret);
  return s.sign(t, Poco::JWT::Signer::ALGO_HS256);
}

inline std::string signRs256(const nlohmann::json& claims, const Rsa& rsa) {
  Poco::JWT::Token t;
  t = unsignedToken({{"typ", "JWT"}}, claims);
  Poco::JWT::Signer s;
  s.setRSAKey(rsa.key);
  return s.sign(t, Poco::JWT::Signer::ALGO_RS256);
}

}  // namespace plexus::test::jwt
