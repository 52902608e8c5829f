#include "http/connection_limits.hpp"

namespace plexus::http {

ConnectionLimits::Verdict ConnectionLimits::admit(const std::string& client) {
  if (open_ >= maxTotal_) return Verdict::MaxConnections;
  size_t& n = perClient_[client];
  if (n >= maxPerClient_) return Verdict::PerClient;  // n > 0 here: the entry existed
  ++n;
  ++open_;
  return Verdict::Admit;
}

void ConnectionLimits::release(const std::string& client) {
  auto it = perClient_.find(client);
  if (it == perClient_.end()) return;
  --open_;
  if (--it->second == 0) perClient_.erase(it);
}

const char* verdictLabel(ConnectionLimits::Verdict v) {
  switch (v) {
    case ConnectionLimits::Verdict::Admit:
      return "admitted";
    case ConnectionLimits::Verdict::MaxConnections:
      return "max_connections";
    case ConnectionLimits::Verdict::PerClient:
      return "per_client";
  }
  return "unknown";
}

}  // namespace plexus::http
