// The plugin of the inline-perspective tests (tests/plugin/inline_test.cpp): a receptor that
// records a thing and emits ThingRecorded, an INLINE perspective that projects it (and fails as
// the payload says), and an asynchronous one that counts what reaches it.
//
//   POST /iv/things {"id", "note", "fail"?, "then"?}  invokes RecordThing in the route's
//        transaction -> 201 {"id"}; the receptor's failure -> 503 (RETRY) or 500
//   POST /iv/emit   {"id", "note", "fail"?}           the route emits ThingRecorded itself -> 201
//   POST /iv/send   {"id", "note", "fail"?}           sends RecordThing through the outbox -> 202
//   GET  /iv/things/{id}  -> {"log", "applied"} from the inline view, 404 before its projection
//
// `fail`: "reject" | "retry" | "throw" | "emit" (the inline perspective tries to emit) makes the
// inline perspective fail that way. `then`: a second note, emitted as ThingNoted after
// ThingRecorded (the view's log shows the projection order).
#include <plexus/sdk/plugin.hpp>

#include <stdexcept>
#include <string>

namespace inline_view {

using plexus::Json;

Json body(const plexus::Message& m) {
  Json b = m.json();
  if (!b.is_object()) throw plexus::BadRequest("payload must be an object");
  return b;
}

void emitThing(plexus::Context& ctx, const Json& b) {
  const std::string id = b.value("id", "");
  ctx.emit("ThingRecorded",
           Json{{"id", id}, {"note", b.value("note", "")}, {"fail", b.value("fail", "")}}, id);
  if (b.contains("then")) ctx.emit("ThingNoted", Json{{"id", id}, {"note", b["then"]}}, id);
}

class RecordThing final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& m) override {
    const Json b = body(m);
    ctx.exec("INSERT INTO iv_things (id, note) VALUES ($1, $2)", b.value("id", ""),
             b.value("note", ""));
    emitThing(ctx, b);
    return plexus::ok(Json{{"id", b.value("id", "")}}.dump());
  }
};

// Inline: the log of notes in projection order, and how often it was applied (a second
// projection of one event would show as applied > number of events).
class ThingView final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& e) override {
    const Json b = body(e);
    const std::string fail = b.value("fail", "");
    if (fail == "reject") return plexus::reject("the view refuses this thing");
    if (fail == "retry") return plexus::retry("the view is busy");
    if (fail == "throw") throw std::runtime_error("the view blew up");
    if (fail == "emit") ctx.emit("ViewChanged", Json::object());  // refused: throws
    ctx.exec(
        "INSERT INTO iv_view (id, log, applied) VALUES ($1, $2, 1) ON CONFLICT (id) DO UPDATE "
        "SET log = iv_view.log || ',' || excluded.log, applied = iv_view.applied + 1",
        b.value("id", ""), b.value("note", ""));
    return plexus::ok();
  }
};

// Asynchronous: one row per event it received.
class ThingCounter final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& e) override {
    ctx.exec("INSERT INTO iv_seen (event_id, thing) VALUES ($1, $2)", std::string(e.id()),
             body(e).value("id", ""));
    return plexus::ok();
  }
};

class PostThing final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const Json b = req.json();
    const plexus::Result r = ctx.invoke("RecordThing", b, b.value("id", ""));
    if (r.status == plexus::Status::Retry) return plexus::Response::error(503, r.detail);
    if (r.status != plexus::Status::Ok) return plexus::Response::error(500, r.detail);
    return plexus::Response::json(201, Json::parse(r.detail));
  }
};

class EmitThing final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const Json b = req.json();
    emitThing(ctx, b);
    return plexus::Response::json(201, Json{{"id", b.value("id", "")}});
  }
};

class SendThing final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const Json b = req.json();
    ctx.send("RecordThing", b, b.value("id", ""));
    return plexus::Response::json(202, Json{{"id", b.value("id", "")}});
  }
};

class GetThing final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const plexus::Rows rows =
        ctx.sql("SELECT log, applied FROM iv_view WHERE id = $1", req.param("id").value_or(""));
    if (rows.empty()) return plexus::Response::error(404, "no such thing in the view");
    return plexus::Response::json(
        200, Json{{"log", rows[0][0].asText()}, {"applied", rows[0][1].asInt()}});
  }
};

}  // namespace inline_view

PLEXUS_REGISTER_MIGRATION(1, "any", "inline view tables",
                          "CREATE TABLE iv_things (id TEXT PRIMARY KEY, note TEXT NOT NULL);"
                          "CREATE TABLE iv_view (id TEXT PRIMARY KEY, log TEXT NOT NULL, "
                          "applied INTEGER NOT NULL);"
                          "CREATE TABLE iv_seen (event_id TEXT PRIMARY KEY, thing TEXT NOT NULL)");
PLEXUS_REGISTER_RECEPTOR(inline_view::RecordThing, plexus::command("RecordThing"));
PLEXUS_REGISTER_INLINE_PERSPECTIVE(inline_view::ThingView, "ThingRecorded", "ThingNoted");
PLEXUS_REGISTER_PERSPECTIVE(inline_view::ThingCounter, "ThingRecorded");
PLEXUS_REGISTER_ROUTE(inline_view::PostThing, "POST", "/iv/things");
PLEXUS_REGISTER_ROUTE(inline_view::EmitThing, "POST", "/iv/emit");
PLEXUS_REGISTER_ROUTE(inline_view::SendThing, "POST", "/iv/send");
PLEXUS_REGISTER_ROUTE(inline_view::GetThing, "GET", "/iv/things/{id}");
PLEXUS_PLUGIN("inline_view", "1.0.0");
