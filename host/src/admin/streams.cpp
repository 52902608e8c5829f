#include "admin/streams.hpp"

#include "admin/queries.hpp"
#include "admin/response.hpp"
#include "message/message.hpp"

#include <nlohmann/json.hpp>
#include <plexus/sdk/rfc3339.hpp>

namespace plexus::admin {
namespace {

using nlohmann::json;

// A stream id from the path: any text of 1-256 bytes without control characters.
bool validStream(const std::string& s) {
  if (s.empty() || s.size() > 256) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

json parsedOrText(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

// A message with its metadata, as the console shows it.
json messageJson(const Message& m, int64_t version, int64_t createdAtMs) {
  json out{{"messageId", m.id},
           {"kind", m.kind},
           {"type", m.type},
           {"stream", m.stream},
           {"createdAt", rfc3339::format(createdAtMs)},
           {"payload", parsedOrText(m.payload)},
           {"correlation", m.correlation},
           {"causation", m.causation},
           {"traceparent", m.traceparent},
           // W3C traceparent: 00-<trace id, 32 hex>-<parent id, 16 hex>-<flags>
           {"traceId", m.traceparent.size() >= 35 ? m.traceparent.substr(3, 32) : ""},
           {"source", json{{"service", m.source}, {"instance", m.sourceInstance}}},
           {"contentType", m.contentType},
           {"metadata", "stored"}};
  if (version > 0) out["version"] = version;
  return out;
}

plugin::HttpResponse withNext(const json& items, bool more, const std::string& next) {
  plugin::HttpResponse out = jsonOk(200, items);
  if (more) out.headers.emplace_back("Link", "<" + next + ">; rel=\"next\"");
  return out;
}

}  // namespace

// GET /admin/streams/{stream}[?after=VERSION&limit=N]: events oldest first.
plugin::HttpResponse Streams::streams(const plugin::HttpRequest& req,
                                      const std::vector<std::string>& segs,
                                      std::string& routeLabel) {
  routeLabel = "/admin/streams/{id}";
  if (store_ == nullptr) return jsonError(404, "this host has no event store");
  if (segs.size() != 3) return jsonError(404, "look a stream up as /admin/streams/{id}");
  if (req.method != "GET") return methodNotAllowed("GET");
  const std::string& stream = segs[2];
  if (!validStream(stream)) return jsonError(400, "a stream id is 1-256 bytes of text");
  const Query q(req.query);
  const int64_t after = q.integer("after", 0, 0, INT64_MAX);
  const int limit = static_cast<int>(q.integer("limit", 100, 1, 500));
  auto tx = store_->begin();
  const auto rows = queries::streamEvents(*tx, stream, after, limit + 1);
  tx->commit();
  json items = json::array();
  for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
    const auto& r = rows[i];
    items.push_back(messageJson(r.message, r.version, r.createdAtMs));
  }
  const bool more = rows.size() > static_cast<size_t>(limit);
  const int64_t last = items.empty() ? after : items.back()["version"].get<int64_t>();
  return withNext(items, more,
                  "/admin/streams/" + percentEncode(stream) + "?after=" + std::to_string(last) +
                      "&limit=" + std::to_string(limit));
}

// GET /admin/messages/{id}; GET /admin/messages?correlation=ID[&limit=N].
plugin::HttpResponse Streams::messages(const plugin::HttpRequest& req,
                                       const std::vector<std::string>& segs,
                                       std::string& routeLabel) {
  routeLabel = segs.size() == 3 ? "/admin/messages/{id}" : "/admin/messages";
  if (store_ == nullptr) return jsonError(404, "this host has no message store");
  if (req.method != "GET") return methodNotAllowed("GET");
  if (segs.size() == 3) {
    if (!validId(segs[2])) return jsonError(400, "a message id is 1-128 of [A-Za-z0-9._:-]");
    auto tx = store_->begin();
    const auto m = queries::message(*tx, segs[2]);
    tx->commit();
    if (!m) return jsonError(404, "no message " + segs[2] + " in this host's store");
    return jsonOk(200, messageJson(m->message, m->version, m->createdAtMs));
  }
  if (segs.size() != 2) return jsonError(404, "not found");
  const Query q(req.query);
  const std::string correlation = q.text("correlation");
  if (!validId(correlation))
    return jsonError(400, "correlation must be an id of 1-128 of [A-Za-z0-9._:-]");
  const int limit = static_cast<int>(q.integer("limit", 100, 1, 500));
  auto tx = store_->begin();
  const auto rows = queries::correlated(*tx, correlation, limit);
  tx->commit();
  json items = json::array();
  for (const auto& m : rows) items.push_back(messageJson(m.message, m.version, m.createdAtMs));
  return jsonOk(200, items);
}

}  // namespace plexus::admin
