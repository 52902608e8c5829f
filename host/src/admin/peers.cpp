#include "admin/peers.hpp"

#include "admin/response.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timespan.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <istream>
#include <set>

namespace plexus::admin {
namespace {

using nlohmann::json;

const std::set<std::string> kProxied{"overview",     "plugins", "flow",
                                     "dead-letters", "streams", "messages"};

std::string header(const plugin::HttpRequest& req, const std::string& name) {
  for (const auto& [k, v] : req.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(a) == std::tolower(b);
        }))
      return v;
  }
  return "";
}

bool safeQuery(const std::string& q) {
  for (unsigned char c : q) {
    if (c <= ' ' || c >= 0x7f || c == '#') return false;
  }
  return q.size() <= 2048;
}

plugin::HttpResponse peerError(int status, const config::Peer& peer, const std::string& what,
                               const char* flag) {
  plugin::HttpResponse out =
      jsonOk(status, json{{"error", "peer " + peer.name + " (" + peer.url + ") " + what},
                          {"peer", peer.name},
                          {flag, true}});
  out.headers.emplace_back("X-Plexus-Peer", peer.name);
  return out;
}

// Decrements the in-flight count however the proxy call ends.
struct InFlight {
  explicit InFlight(std::atomic<int>& n) : n_(n) { ++n_; }
  ~InFlight() { --n_; }
  std::atomic<int>& n_;
};

}  // namespace

plugin::HttpResponse Peers::handle(const plugin::HttpRequest& req,
                                   const std::vector<std::string>& segs, std::string& routeLabel) {
  routeLabel = "/admin/peers";
  if (req.method != "GET") return methodNotAllowed("GET");
  if (segs.size() == 2) {
    json peers = json::array();
    for (size_t i = 0; i < console_.peers.size(); ++i) {
      peers.push_back(
          json{{"index", i}, {"name", console_.peers[i].name}, {"url", console_.peers[i].url}});
    }
    return jsonOk(200, json{{"peers", peers}, {"timeoutMs", console_.peerTimeoutMs}});
  }
  routeLabel = "/admin/peers/{index}/*";
  size_t index = 0;
  if (segs[2].empty() || segs[2].size() > 3 ||
      segs[2].find_first_not_of("0123456789") != std::string::npos ||
      (index = std::stoul(segs[2])) >= console_.peers.size()) {
    return jsonError(404, "no peer " + segs[2] + " (see GET /admin/peers)");
  }
  if (segs.size() < 4 || segs.size() > 5 || kProxied.count(segs[3]) == 0) {
    return jsonError(404,
                     "a peer's overview, plugins, flow, dead-letters, streams/{id} or "
                     "messages/{id} can be read through the proxy");
  }
  if (!safeQuery(req.query)) return jsonError(400, "query string not allowed through the proxy");
  std::string target = "/admin";
  for (size_t i = 3; i < segs.size(); ++i) target += "/" + percentEncode(segs[i]);
  if (!req.query.empty()) target += "?" + req.query;
  return proxy(console_.peers[index], target, req);
}

plugin::HttpResponse Peers::proxy(const config::Peer& peer, const std::string& target,
                                  const plugin::HttpRequest& req) {
  if (inFlight_.load() >= kMaxInFlight) {
    plugin::HttpResponse out = jsonError(503, "too many peer requests in flight, retry later");
    out.headers.emplace_back("Retry-After", "1");
    return out;
  }
  InFlight guard(inFlight_);
  const auto started = std::chrono::steady_clock::now();
  const auto budget = std::chrono::milliseconds(2 * console_.peerTimeoutMs);
  try {
    Poco::Net::HTTPClientSession session(peer.host, static_cast<Poco::UInt16>(peer.port));
    session.setTimeout(Poco::Timespan(static_cast<long>(console_.peerTimeoutMs) * 1000));
    Poco::Net::HTTPRequest out(Poco::Net::HTTPRequest::HTTP_GET, peer.basePath + target,
                               Poco::Net::HTTPMessage::HTTP_1_1);
    out.set("Accept", "application/json");
    const std::string auth = header(req, "Authorization");
    if (!auth.empty()) out.set("Authorization", auth);
    if (!req.requestId.empty()) out.set("X-Request-Id", req.requestId);
    session.sendRequest(out);
    Poco::Net::HTTPResponse in;
    std::istream& body = session.receiveResponse(in);
    std::string text;
    char buf[16384];
    while (body) {
      body.read(buf, sizeof buf);
      text.append(buf, static_cast<size_t>(body.gcount()));
      if (text.size() > kMaxBodyBytes) return peerError(502, peer, "answered too much", "invalid");
      if (std::chrono::steady_clock::now() - started > budget)
        return peerError(504, peer, "answered too slowly", "timeout");
      if (body.gcount() == 0) break;
    }
    const int status = static_cast<int>(in.getStatus());
    if (status == 401 || status == 403) {
      // The browser's token is fine here (it got this far); the peer refused it.
      const json j = json::parse(text, nullptr, false);
      const std::string why = j.is_object() ? j.value("error", "") : "";
      return peerError(502, peer, "refused the token (" + std::to_string(status) + ": " + why + ")",
                       "unauthorized");
    }
    plugin::HttpResponse result;
    result.status = status;
    result.body = std::move(text);
    result.contentType = in.getContentType().empty() ? "application/json" : in.getContentType();
    result.headers.emplace_back("X-Plexus-Peer", peer.name);
    result.headers.emplace_back("Cache-Control", "no-store");
    if (in.has("X-Total-Count"))
      result.headers.emplace_back("X-Total-Count", in.get("X-Total-Count"));
    return result;
  } catch (const Poco::TimeoutException&) {
    return peerError(504, peer,
                     "did not answer within " + std::to_string(console_.peerTimeoutMs) + " ms",
                     "timeout");
  } catch (const Poco::Exception& e) {
    return peerError(502, peer, "is unreachable: " + e.displayText(), "unreachable");
  }
}

}  // namespace plexus::admin
