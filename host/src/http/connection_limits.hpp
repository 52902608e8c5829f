#pragma once
// Admission of new connections: a cap on all open connections and one per client address, so a
// single client cannot take every connection slot. Used by the front end's loop thread only.

#include <cstddef>
#include <string>
#include <unordered_map>

namespace plexus::http {

class ConnectionLimits {
 public:
  enum class Verdict { Admit, MaxConnections, PerClient };

  ConnectionLimits(size_t maxTotal, size_t maxPerClient)
      : maxTotal_(maxTotal), maxPerClient_(maxPerClient) {}

  // Admit counts the connection; release() it when it closes.
  Verdict admit(const std::string& client);
  void release(const std::string& client);

  size_t open() const { return open_; }
  size_t clients() const { return perClient_.size(); }  // at most open()
  size_t maxTotal() const { return maxTotal_; }

 private:
  size_t maxTotal_;
  size_t maxPerClient_;
  size_t open_ = 0;
  std::unordered_map<std::string, size_t> perClient_;  // only clients with open connections
};

// The metric label of a refusal.
const char* verdictLabel(ConnectionLimits::Verdict v);

}  // namespace plexus::http
