#pragma once
// The `console` section: the operator console's flow history and the peers its system view
// shows (docs/console.md).

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace plexus::config {

class Reader;

// Another host of the same system, reached over plain HTTP (in Kubernetes: its Service).
struct Peer {
  std::string name;  // shown in the system view
  std::string url;   // http://host[:port][/base], no trailing slash
  std::string host;
  int port = 80;
  std::string basePath;  // "" or "/base"
};

struct Console {
  std::vector<Peer> peers;   // an entry whose url expands to "" is left out
  int peerTimeoutMs = 2000;  // per proxied peer request: connect, send and each read
  int sampleSeconds = 5;     // flow sampler period
  int historyMinutes = 15;   // flow history kept in the ring buffer
};

Console parseConsole(const Reader& r, const nlohmann::json& c);

// Splits an http:// base URL; false with `why` set when it is not one.
bool parsePeerUrl(const std::string& url, Peer& out, std::string& why);

}  // namespace plexus::config
