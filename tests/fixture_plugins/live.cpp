// The plugin of the live-operations tests (reload and rebuild), built in versions from one
// source (tests/fixture_plugins/CMakeLists.txt): LIVE_VERSION 1 or 2 (2 answers with a new
// response field and its read model computes a new column; 2.1 changes nothing but its version),
// and broken versions 3 (a failing migration, a component whose construction throws, one more
// route).
//
//   POST /api/live/orders {"orderId", "stream", "seq", "lines": [{"qty": N}, ...], "workMs"?}
//     -> invokes PlaceLiveOrder (the order row, event LiveOrderPlaced) -> 201 {orderId, version}
//   LiveLog      perspective: every LiveOrderPlaced in arrival order per stream (order, exactly
//                once, and which version handled it)
//   LiveSummary  perspective: one row per order (items; version 2 also the number of lines)
//   GET /api/live/summary/{id}, GET /api/live/log/{stream}, GET /api/live/stats
#include <plexus/sdk/plugin.hpp>

#include <chrono>
#include <thread>

#ifndef LIVE_VERSION
#define LIVE_VERSION 1
#endif
#define LIVE_STR2(x) #x
#define LIVE_STR(x) LIVE_STR2(x)
#ifndef LIVE_MINOR
#define LIVE_MINOR 0
#endif
#define LIVE_VERSION_TEXT LIVE_STR(LIVE_VERSION) "." LIVE_STR(LIVE_MINOR) ".0"

namespace live {

using plexus::Json;

constexpr const char* kVersion = LIVE_VERSION_TEXT;

int64_t itemsOf(const Json& lines) {
  int64_t n = 0;
  for (const auto& l : lines) n += l.value("qty", int64_t{1});
  return n;
}

class PlaceLiveOrder final : public plexus::Receptor {
 public:
#ifdef LIVE_BROKEN_CREATE
  PlaceLiveOrder() { throw std::runtime_error("version 3 cannot start: broken on purpose"); }
#endif
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& m) override {
    const Json body = m.json();
    const std::string id = body.value("orderId", "");
    if (id.empty()) return plexus::reject("orderId is required");
    const Json lines = body.value("lines", Json::array());
    if (body.contains("workMs")) {  // a slow call, in flight across a reload
      ctx.log(plexus::LogLevel::Info, "slow call started");
      std::this_thread::sleep_for(std::chrono::milliseconds(body["workMs"].get<int>()));
    }
    ctx.exec(
        "INSERT INTO live_orders (order_id, stream_id, seq, items, placed_by) VALUES ($1, $2, $3, "
        "$4, $5)",
        id, std::string(m.stream()), body.value("seq", int64_t{0}), itemsOf(lines),
        std::string(kVersion));
    ctx.emit("LiveOrderPlaced",
             Json{{"orderId", id}, {"seq", body.value("seq", 0)}, {"lines", lines}});
    Json result{{"orderId", id}, {"version", kVersion}};
#if LIVE_VERSION >= 2
    result["receipt"] = "R-" + id;  // the response field version 2 adds
#endif
    return plexus::ok(result.dump());
  }
};

class LiveLog final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& e) override {
    const Json body = e.json();
    ctx.exec(
        "INSERT INTO live_log (message_id, stream_id, seq, position, handled_by) "
        "SELECT $1, $2, $3, COALESCE(MAX(position), 0) + 1, $4 FROM live_log WHERE stream_id = $2",
        std::string(e.id()), std::string(e.stream()), body.value("seq", int64_t{0}),
        std::string(kVersion));
    return plexus::ok();
  }
};

// Rebuildable: deterministic from the event, idempotent, nothing but its own SQL.
class LiveSummary final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& e) override {
    const Json body = e.json();
    const Json lines = body.value("lines", Json::array());
#if LIVE_VERSION >= 2
    ctx.exec(
        "INSERT INTO live_summary (order_id, items, lines) VALUES ($1, $2, $3) "
        "ON CONFLICT (order_id) DO UPDATE SET items = excluded.items, lines = excluded.lines",
        body.value("orderId", ""), itemsOf(lines), static_cast<int64_t>(lines.size()));
#else
    ctx.exec(
        "INSERT INTO live_summary (order_id, items) VALUES ($1, $2) "
        "ON CONFLICT (order_id) DO UPDATE SET items = excluded.items",
        body.value("orderId", ""), itemsOf(lines));
#endif
    return plexus::ok();
  }
};

class PostOrder final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const Json body = req.json();
    const plexus::Result r = ctx.invoke("PlaceLiveOrder", body, body.value("stream", "s"));
    if (r.status == plexus::Status::Reject) return plexus::Response::error(400, r.detail);
    if (r.status != plexus::Status::Ok) return plexus::Response::error(503, "try again");
    return plexus::Response::json(201, Json::parse(r.detail));
  }
};

class GetSummary final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const std::string id = req.param("id").value_or("");
#if LIVE_VERSION >= 2
    const auto rows = ctx.sql("SELECT items, lines FROM live_summary WHERE order_id = $1", id);
#else
    const auto rows = ctx.sql("SELECT items FROM live_summary WHERE order_id = $1", id);
#endif
    if (rows.empty()) return plexus::Response::error(404, "no such order");
    Json out{{"orderId", id}, {"items", rows[0][0].asInt()}, {"version", kVersion}};
#if LIVE_VERSION >= 2
    out["lines"] = rows[0][1].asInt();
#endif
    return plexus::Response::json(200, out);
  }
};

// [[seq, position, handled_by], ...] of one stream, in arrival order.
class GetLog final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    Json out = Json::array();
    for (const auto& r : ctx.sql("SELECT seq, position, handled_by FROM live_log WHERE stream_id = "
                                 "$1 ORDER BY position",
                                 req.param("stream").value_or(""))) {
      out.push_back(Json::array({r[0].asInt(), r[1].asInt(), r[2].asText()}));
    }
    return plexus::Response::json(200, out);
  }
};

class GetStats final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request&) override {
    auto count = [&](const char* sql) { return ctx.sql(sql).at(0).at(0).asInt(); };
    Json out{{"orders", count("SELECT COUNT(*) FROM live_orders")},
             {"log", count("SELECT COUNT(*) FROM live_log")},
             {"summaries", count("SELECT COUNT(*) FROM live_summary")},
             {"version", kVersion}};
#if LIVE_VERSION >= 2
    out["summariesWithLines"] = count("SELECT COUNT(*) FROM live_summary WHERE lines > 0");
#endif
    return plexus::Response::json(200, out);
  }
};

#ifdef LIVE_EXTRA_ROUTE
class GetPing final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context&, const plexus::Request&) override {
    return plexus::Response::json(200, Json{{"pong", true}});
  }
};
#endif

}  // namespace live

PLEXUS_REGISTER_MIGRATION(
    1, "any", "live tables",
    "CREATE TABLE live_orders (order_id TEXT PRIMARY KEY, stream_id TEXT NOT NULL, "
    "seq BIGINT NOT NULL, items BIGINT NOT NULL, placed_by TEXT NOT NULL);"
    "CREATE TABLE live_log (message_id TEXT PRIMARY KEY, stream_id TEXT NOT NULL, "
    "seq BIGINT NOT NULL, position BIGINT NOT NULL, handled_by TEXT NOT NULL);"
    "CREATE INDEX live_log_stream ON live_log (stream_id, position);"
    "CREATE TABLE live_summary (order_id TEXT PRIMARY KEY, items BIGINT NOT NULL);"
    "CREATE INDEX live_summary_items ON live_summary (items)");
#if LIVE_VERSION >= 2
PLEXUS_REGISTER_MIGRATION(2, "any", "summary lines",
                          "ALTER TABLE live_summary ADD COLUMN lines BIGINT NOT NULL DEFAULT 0");
#endif
#ifdef LIVE_BROKEN_MIGRATION
PLEXUS_REGISTER_MIGRATION(3, "any", "broken on purpose",
                          "ALTER TABLE live_no_such_table ADD COLUMN x BIGINT");
#endif
PLEXUS_REGISTER_RECEPTOR(live::PlaceLiveOrder, "PlaceLiveOrder");
PLEXUS_REGISTER_PERSPECTIVE(live::LiveLog, "LiveOrderPlaced");
PLEXUS_REGISTER_PERSPECTIVE(live::LiveSummary, "LiveOrderPlaced");
PLEXUS_REGISTER_ROUTE(live::PostOrder, "POST", "/api/live/orders");
PLEXUS_REGISTER_ROUTE(live::GetSummary, "GET", "/api/live/summary/{id}");
PLEXUS_REGISTER_ROUTE(live::GetLog, "GET", "/api/live/log/{stream}");
PLEXUS_REGISTER_ROUTE(live::GetStats, "GET", "/api/live/stats");
#ifdef LIVE_EXTRA_ROUTE
PLEXUS_REGISTER_ROUTE(live::GetPing, "GET", "/api/live/ping");  // a changed shape
#endif
PLEXUS_PLUGIN("live", LIVE_VERSION_TEXT);
