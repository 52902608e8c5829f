#pragma once
// The replay protocol between a rebuilding host and the deployments that own the events it needs
// (docs/architecture.md, "Rebuilding across deployments"), on the broker:
//   plexus.replay               fanout exchange; every deployment binds <service>.replay to it
//   <service>.replay            durable; its replicas compete, so one of them answers a request
//   plexus.rebuild.<id>.reply   the rebuild's answers (declared by the requester, expires unused)
//   plexus.rebuild.<id>.tap     bound to plexus.events for the perspective's types before the
//                               request goes out: what is published meanwhile
// A request (JSON body) names the types, the reply queue and a window. Each deployment answers
// "begin" {source, total}, its events of those types in stream order (CloudEvents binary mode,
// as they are published), then "end" {source, sent}: the x-plexus-replay header tells which.
// Back-pressure: a responder publishes with confirms, and only while fewer than `window`
// answers wait in the reply queue.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace plexus::rebuild::replay {

constexpr const char* kExchange = "plexus.replay";
constexpr const char* kKindHeader = "x-plexus-replay";  // "begin" | "event" | "end"
constexpr const char* kSourceHeader = "x-plexus-replay-source";

inline std::string requestQueue(const std::string& service) { return service + ".replay"; }
inline std::string replyQueue(const std::string& id) { return "plexus.rebuild." + id + ".reply"; }
inline std::string tapQueue(const std::string& id) { return "plexus.rebuild." + id + ".tap"; }

struct Request {
  std::string rebuild;    // its id
  std::string requester;  // the rebuilding deployment (service)
  std::string replyTo;
  std::vector<std::string> types;
  int window = 2000;
  int64_t expiresAt = 0;  // Unix ms: a responder drops a request it gets later

  nlohmann::json toJson() const {
    return nlohmann::json{{"rebuild", rebuild}, {"requester", requester}, {"replyTo", replyTo},
                          {"types", types},     {"window", window},       {"expiresAt", expiresAt}};
  }
  // false for a body that is not a request (it is dropped).
  static bool parse(const std::string& body, Request& out) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("replyTo") || !j["replyTo"].is_string() ||
        !j.contains("types") || !j["types"].is_array())
      return false;
    out.rebuild = j.value("rebuild", "");
    out.requester = j.value("requester", "");
    out.replyTo = j["replyTo"].get<std::string>();
    for (const auto& t : j["types"]) {
      if (t.is_string()) out.types.push_back(t.get<std::string>());
    }
    out.window = j.value("window", 2000);
    out.expiresAt = j.value("expiresAt", int64_t{0});
    return !out.types.empty() && out.window > 0;
  }
};

}  // namespace plexus::rebuild::replay
