#include "admin/dead_letters.hpp"

#include "admin/response.hpp"
#include "dispatch/dead_letter_admin.hpp"

#include <nlohmann/json.hpp>
#include <plexus/sdk/rfc3339.hpp>

namespace plexus::admin {
namespace {

using nlohmann::json;

// A list answer stops growing past this many bytes (payloads can be large); the Link header then
// points at the rest.
constexpr size_t kMaxListBytes = 4u << 20;

json toJson(const queries::DeadLetterRow& r) { return dispatch::deadLetterJson(r); }

// "before" cursor: "<lastFailedAtMs>.<id>" of the last item of the previous page.
queries::DeadLetterCursor parseCursor(const std::string& text) {
  queries::DeadLetterCursor c;
  if (text.empty()) return c;
  const size_t dot = text.find('.');
  const std::string ms = text.substr(0, dot);
  if (dot == std::string::npos || ms.empty() || ms.size() > 18 ||
      ms.find_first_not_of("0123456789") != std::string::npos || !validId(text.substr(dot + 1))) {
    throw BadParam("before must be a cursor from a Link header");
  }
  c.lastFailedAtMs = std::stoll(ms);
  c.id = text.substr(dot + 1);
  return c;
}

std::optional<int64_t> jsonTime(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s.empty()) return std::nullopt;
    if (s.find_first_not_of("0123456789") == std::string::npos && s.size() <= 15)
      return std::stoll(s);
    if (auto ms = rfc3339::parse(s)) return ms;
  }
  throw BadParam(std::string("filter.") + key + " must be an RFC 3339 time or Unix ms");
}

std::string jsonText(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (!j[key].is_string() || j[key].get<std::string>().size() > 256)
    throw BadParam(std::string("filter.") + key + " must be a string of at most 256 bytes");
  return j[key].get<std::string>();
}

std::string queryString(const queries::DeadLetterFilter& f) {
  std::string q;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) q += std::string(q.empty() ? "" : "&") + k + "=" + percentEncode(v);
  };
  add("type", f.type);
  add("handler", f.handler);
  add("reason", f.reason);
  if (f.sinceMs > 0) add("since", std::to_string(f.sinceMs));
  if (f.untilMs != queries::DeadLetterFilter().untilMs) add("until", std::to_string(f.untilMs));
  return q;
}

}  // namespace

queries::DeadLetterFilter DeadLetters::filterFrom(const Query& q) {
  queries::DeadLetterFilter f;
  f.type = q.text("type");
  f.handler = q.text("handler");
  f.reason = q.text("reason");
  if (auto s = q.time("since")) f.sinceMs = *s;
  if (auto u = q.time("until")) f.untilMs = *u;
  return f;
}

queries::DeadLetterFilter DeadLetters::filterFrom(const json& j) {
  if (!j.is_object()) throw BadParam("filter must be an object");
  for (const auto& [k, v] : j.items()) {
    if (k != "type" && k != "handler" && k != "reason" && k != "since" && k != "until")
      throw BadParam("filter." + k + " is not a filter (type, handler, reason, since, until)");
  }
  queries::DeadLetterFilter f;
  f.type = jsonText(j, "type");
  f.handler = jsonText(j, "handler");
  f.reason = jsonText(j, "reason");
  if (auto s = jsonTime(j, "since")) f.sinceMs = *s;
  if (auto u = jsonTime(j, "until")) f.untilMs = *u;
  return f;
}

// GET /admin/dead-letters[?type&handler&reason&since&until&limit&before]
// GET|DELETE /admin/dead-letters/{id}, POST /admin/dead-letters/{id}/retry,
// POST /admin/dead-letters/retry|discard (a confirmed selection).
plugin::HttpResponse DeadLetters::handle(const plugin::HttpRequest& req,
                                         const std::vector<std::string>& segs,
                                         std::string& routeLabel) {
  routeLabel = "/admin/dead-letters";
  if (admin_ == nullptr || store_ == nullptr)
    return jsonError(404, "this host has no message store");
  if (segs.size() == 2) return req.method == "GET" ? list(req) : methodNotAllowed("GET");
  if (segs.size() == 3 && (segs[2] == "retry" || segs[2] == "discard")) {
    routeLabel = "/admin/dead-letters/" + segs[2];
    return req.method == "POST" ? bulk(req, segs[2]) : methodNotAllowed("POST");
  }
  if (segs.size() == 3) {
    routeLabel = "/admin/dead-letters/{id}";
    if (req.method == "GET") return one(segs[2]);
    if (req.method != "DELETE") return methodNotAllowed("GET, DELETE");
    if (!admin_->discard(segs[2])) return jsonError(404, "no such dead letter");
    plugin::HttpResponse out;
    out.status = 204;
    return out;
  }
  if (segs.size() == 4 && segs[3] == "retry") {
    routeLabel = "/admin/dead-letters/{id}/retry";
    if (req.method != "POST") return methodNotAllowed("POST");
    if (!admin_->retry(segs[2])) return jsonError(404, "no such dead letter");
    return jsonOk(202, json{{"status", "requeued"}, {"id", segs[2]}});
  }
  routeLabel = "/admin/*";
  return jsonError(404, "not found");
}

plugin::HttpResponse DeadLetters::list(const plugin::HttpRequest& req) {
  const Query q(req.query);
  const queries::DeadLetterFilter f = filterFrom(q);
  const int limit = static_cast<int>(q.integer("limit", 100, 1, 1000));
  const queries::DeadLetterCursor after = parseCursor(q.text("before"));
  auto tx = store_->begin();
  const auto rows = queries::deadLetters(*tx, f, after, limit + 1);
  const int64_t total = queries::countDeadLetters(*tx, f);
  tx->commit();
  json items = json::array();
  size_t bytes = 2;
  bool more = rows.size() > static_cast<size_t>(limit);
  for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
    json item = toJson(rows[i]);
    bytes += item.dump().size() + 1;
    if (bytes > kMaxListBytes && !items.empty()) {
      more = true;
      break;
    }
    items.push_back(std::move(item));
  }
  plugin::HttpResponse out = jsonOk(200, items);
  out.headers.emplace_back("X-Total-Count", std::to_string(total));
  if (more) {
    const auto& last = rows[items.size() - 1];
    std::string next = queryString(f);
    next += std::string(next.empty() ? "" : "&") + "limit=" + std::to_string(limit) +
            "&before=" + std::to_string(last.lastFailedAt) + "." + last.id;
    out.headers.emplace_back("Link", "</admin/dead-letters?" + next + ">; rel=\"next\"");
  }
  return out;
}

plugin::HttpResponse DeadLetters::one(const std::string& id) {
  auto tx = store_->begin();
  const auto row = queries::deadLetter(*tx, id);
  tx->commit();
  if (!row) return jsonError(404, "no such dead letter");
  return jsonOk(200, toJson(*row));
}

// Body: {"filter": {...}} or {"ids": [...]}, and "expectedCount": the count the operator confirmed.
// A selection that no longer has that count is refused with 409 and the current count.
plugin::HttpResponse DeadLetters::bulk(const plugin::HttpRequest& req, const std::string& action) {
  const json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return jsonError(400, "body must be a JSON object");
  if (!body.contains("expectedCount") || !body["expectedCount"].is_number_integer())
    return jsonError(400, "expectedCount (the number of dead letters you confirmed) is required");
  if (body.contains("ids") == body.contains("filter"))
    return jsonError(400, "give either ids (a list) or filter (an object)");
  const int64_t expected = body["expectedCount"].get<int64_t>();
  std::vector<std::string> ids;
  int64_t count = 0;
  auto tx = store_->begin();
  if (body.contains("filter")) {
    const queries::DeadLetterFilter f = filterFrom(body["filter"]);
    count = queries::countDeadLetters(*tx, f);
    if (count > kMaxBulk) {
      return jsonError(400, std::to_string(count) +
                                " dead letters match; one action takes at most " +
                                std::to_string(kMaxBulk) + ": narrow the filter");
    }
    if (count == expected)
      for (const auto& r : queries::deadLetters(*tx, f, {}, kMaxBulk)) ids.push_back(r.id);
  } else {
    const json& list = body["ids"];
    if (!list.is_array() || list.empty() || list.size() > static_cast<size_t>(kMaxBulk))
      return jsonError(400, "ids must be a list of 1-" + std::to_string(kMaxBulk) + " ids");
    for (const auto& id : list) {
      if (!id.is_string() || !validId(id.get<std::string>()))
        return jsonError(400, "ids must hold dead letter ids");
      if (queries::deadLetter(*tx, id.get<std::string>())) ids.push_back(id.get<std::string>());
    }
    count = static_cast<int64_t>(ids.size());
  }
  tx->commit();
  tx.reset();  // the SQLite store holds its one connection until the transaction object goes
  if (count != expected) {
    return jsonOk(409, json{{"error", "the selection changed: " + std::to_string(count) +
                                          " dead letters match now, not " +
                                          std::to_string(expected) + "; confirm the new count"},
                            {"count", count}});
  }
  // One transaction per dead letter (the dispatcher's own retry/discard): a failure midway leaves
  // the rest as they were, and the answer says what was done.
  json done = json::array(), skipped = json::array();
  for (const auto& id : ids) {
    const bool ok = action == "retry" ? admin_->retry(id) : admin_->discard(id);
    (ok ? done : skipped).push_back(id);
  }
  return jsonOk(200, json{{"action", action},
                          {"matched", ids.size()},
                          {action == "retry" ? "retried" : "discarded", done.size()},
                          {"ids", done},
                          {"skipped", skipped}});
}

}  // namespace plexus::admin
