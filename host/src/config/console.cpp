#include "config/console.hpp"

#include "config/reader.hpp"

#include <nlohmann/json.hpp>

namespace plexus::config {
namespace {

using nlohmann::json;

bool validPeerName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

bool parsePeerUrl(const std::string& url, Peer& out, std::string& why) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    why = "must start with http:// (peers are queried over plain HTTP inside the system)";
    return false;
  }
  std::string rest = url.substr(scheme.size());
  for (char c : rest) {
    if (c <= ' ' || c == '?' || c == '#' || c == '@' || c == '\\' || c > '~') {
      why = "must be http://host[:port][/path] without credentials, query or fragment";
      return false;
    }
  }
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  out.basePath = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.basePath.empty() && out.basePath.back() == '/') out.basePath.pop_back();
  const size_t colon = authority.rfind(':');
  out.host = authority.substr(0, colon);
  out.port = 80;
  if (colon != std::string::npos) {
    const std::string port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos ||
        std::stoi(port) < 1 || std::stoi(port) > 65535) {
      why = "has a bad port \"" + port + "\" (1-65535)";
      return false;
    }
    out.port = std::stoi(port);
  }
  if (out.host.empty() || out.host.front() == '[') {
    why = "needs a host name or IPv4 address";
    return false;
  }
  out.url = scheme + authority + out.basePath;
  return true;
}

Console parseConsole(const Reader& r, const json& c) {
  const std::string base = "/console";
  r.expectObject(c, base, {"peers", "peer_timeout_ms", "sample_seconds", "history_minutes"}, {});
  Console out;
  r.optionalInt(c, base, "peer_timeout_ms", out.peerTimeoutMs, 100, 60000);
  r.optionalInt(c, base, "sample_seconds", out.sampleSeconds, 1, 60);
  r.optionalInt(c, base, "history_minutes", out.historyMinutes, 1, 240);
  if (!c.contains("peers")) return out;
  const json& peers = c["peers"];
  if (!peers.is_array())
    r.fail(base + "/peers", "must be an array, got " + Reader::describe(peers));
  if (peers.size() > 64) r.fail(base + "/peers", "at most 64 peers");
  for (size_t i = 0; i < peers.size(); ++i) {
    const std::string path = base + "/peers/" + std::to_string(i);
    r.expectObject(peers[i], path, {"name", "url"}, {"name", "url"});
    Peer p;
    p.name = r.string(peers[i]["name"], path + "/name");
    if (!validPeerName(p.name))
      r.fail(path + "/name", "must be 1-63 characters of a-z, 0-9 and '-', got \"" + p.name + "\"");
    const std::string url = r.string(peers[i]["url"], path + "/url");
    if (url.empty()) continue;  // switched off through its ${VAR}
    std::string why;
    if (!parsePeerUrl(url, p, why)) r.fail(path + "/url", "\"" + url + "\" " + why);
    for (const auto& other : out.peers) {
      if (other.name == p.name) r.fail(path + "/name", "\"" + p.name + "\" is listed twice");
    }
    out.peers.push_back(std::move(p));
  }
  return out;
}

}  // namespace plexus::config
