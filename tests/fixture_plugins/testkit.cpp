// A well-behaved plugin exercising every hook the host offers today; the plugin-tier tests drive
// it over real HTTP through the real loader.
#include <plexus/sdk/plugin.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace testkit {

using plexus::Json;

// "Work": behaves as the payload says, so tests can provoke each outcome.
class Work final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& m) override {
    const Json body = m.json();
    const std::string mode = body.value("mode", "ok");
    if (mode == "throw") throw std::runtime_error("handler blew up");
    if (mode == "throw-int") throw 42;
    if (mode == "retry") return plexus::retry("try later");
    if (mode == "reject") return plexus::reject("bad work");
    if (mode == "fatal") return plexus::fatal("plugin state corrupt");
    if (mode == "emit") ctx.emit("Worked", Json::object());  // no durable runtime yet: FATAL
    return plexus::ok(Json{{"mode", mode}, {"stream", std::string(m.stream())}}.dump());
  }
};

// POST /t/work: runs Work locally and reports the outcome as JSON (status name + detail).
class PostWork final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const plexus::Result r = ctx.invoke("Work", req.json(), "stream-7");
    return plexus::Response::json(
        200, Json{{"status", plexus::toString(r.status)}, {"detail", r.detail}});
  }
};

// GET /t/slow?ms=N: a request that takes N ms of work (drain tests).
class Slow final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context&, const plexus::Request& req) override {
    const int ms = std::stoi(req.query("ms").value_or("100"));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(ms));  // the workload, not synchronisation
    return plexus::Response::json(200, Json{{"slept_ms", ms}});
  }
};

// GET /t/throw: an unexpected exception inside a route.
class Throw final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context&, const plexus::Request&) override {
    throw std::runtime_error("connection string postgres://secret@db leaked?");
  }
};

// POST /t/fatal: the route's plugin declares itself broken.
class Fatal final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request&) override {
    const plexus::Result r = ctx.invoke("Work", Json{{"mode", "fatal"}});
    return plexus::Response::json(200, Json{{"status", plexus::toString(r.status)}});
  }
};

// GET /t/echo-headers: request id, a header and path/query round trip; sets a response header.
class Headers final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context&, const plexus::Request& req) override {
    return plexus::Response::json(200, Json{{"requestId", std::string(req.requestId())},
                                            {"xTest", req.header("x-test").value_or("")},
                                            {"query", std::string(req.rawQuery())}})
        .header("X-Testkit", "yes");
  }
};

// POST /t/size: the received body length (body limit tests).
class Size final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context&, const plexus::Request& req) override {
    return plexus::Response::json(200, Json{{"bytes", req.body().size()}});
  }
};

// GET /t/config: the plugin config the host handed over.
class ConfigRoute final : public plexus::Route {
 public:
  explicit ConfigRoute(plexus::Host& host) : config_(host.config()) {}
  plexus::Response handle(plexus::Context&, const plexus::Request&) override {
    return plexus::Response::json(200, config_);
  }

 private:
  Json config_;
};

// ---- durable runtime: commands, events, a perspective, scheduling, failures ----

// "Count" (command): increments the stream's counter and emits "Counted". Fails while the
// "broken" flag is set (RETRY) or for mode "reject" (REJECT).
class Count final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& m) override {
    const Json body = m.json();
    if (body.value("mode", "") == "reject") return plexus::reject("count refused");
    if (!ctx.sql("SELECT 1 FROM testkit_flags WHERE name = 'broken'").empty()) {
      return plexus::retry("testkit is broken");
    }
    ctx.exec(
        "INSERT INTO testkit_counts (stream_id, n) VALUES ($1, 1) "
        "ON CONFLICT (stream_id) DO UPDATE SET n = testkit_counts.n + 1",
        std::string(m.stream()));
    const auto rows =
        ctx.sql("SELECT n FROM testkit_counts WHERE stream_id = $1", std::string(m.stream()));
    ctx.emit("Counted", Json{{"n", rows.at(0).at(0).asInt()}, {"seq", body.value("seq", 0)}});
    return plexus::ok();
  }
};

// Records every "Counted" event it sees, in arrival order, to check order and exactly-once.
class CountLog final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& e) override {
    const Json body = e.json();
    ctx.exec("INSERT INTO testkit_log (message_id, stream_id, n, seq) VALUES ($1, $2, $3, $4)",
             std::string(e.id()), std::string(e.stream()), body.value("n", 0),
             body.value("seq", 0));
    return plexus::ok();
  }
};

// POST /t/count {"stream": "...", "seq": N, "mode": "..."} -> sends Count; 202.
class PostCount final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const Json body = req.json();
    const std::string stream = body.value("stream", "s");
    if (body.contains("delayMs")) {
      ctx.schedule("Count", body, ctx.nowMs() + body["delayMs"].get<int64_t>(), stream);
    } else {
      ctx.send("Count", body, stream);
    }
    return plexus::Response::json(202, Json{{"accepted", true}});
  }
};

// GET /t/count/{stream} -> {"n": counter, "log": [[n, seq] of each Counted seen, by n]}
class GetCount final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const std::string stream = req.param("stream").value_or("");
    const auto n = ctx.sql("SELECT n FROM testkit_counts WHERE stream_id = $1", stream);
    Json log = Json::array();  // [n, seq] per Counted event, by n
    for (const auto& r :
         ctx.sql("SELECT n, seq FROM testkit_log WHERE stream_id = $1 ORDER BY n", stream)) {
      log.push_back(Json::array({r.at(0).asInt(), r.at(1).asInt()}));
    }
    return plexus::Response::json(200, Json{{"n", n.empty() ? 0 : n[0][0].asInt()}, {"log", log}});
  }
};

// POST /t/post {"stream": "..."}: after commit, posts a Count outside any hook (Host::post).
// {"throw": "why"} makes the after-commit callback throw instead.
class PostAfterCommit final : public plexus::Route {
 public:
  explicit PostAfterCommit(plexus::Host& host) : host_(host) {}
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const Json body = req.json();
    ctx.afterCommit([this, body] {
      if (body.contains("throw")) throw std::runtime_error(body["throw"].get<std::string>());
      host_.post("Count", body, body.value("stream", "s"));
    });
    return plexus::Response::json(202, Json{{"accepted", true}});
  }

 private:
  plexus::Host& host_;
};

// PUT/DELETE /t/flags/{name}
class SetFlag final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    ctx.exec("DELETE FROM testkit_flags WHERE name = $1", req.param("name").value_or(""));
    ctx.exec("INSERT INTO testkit_flags (name) VALUES ($1)", req.param("name").value_or(""));
    return plexus::Response::json(200, Json{{"set", true}});
  }
};
class ClearFlag final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    ctx.exec("DELETE FROM testkit_flags WHERE name = $1", req.param("name").value_or(""));
    return plexus::Response::json(200, Json{{"set", false}});
  }
};

}  // namespace testkit

PLEXUS_REGISTER_MIGRATION(
    1, "any", "testkit tables",
    "CREATE TABLE testkit_counts (stream_id TEXT PRIMARY KEY, n BIGINT NOT NULL);"
    "CREATE TABLE testkit_log (message_id TEXT PRIMARY KEY, stream_id TEXT NOT NULL, "
    "n BIGINT NOT NULL, seq BIGINT NOT NULL);"
    "CREATE TABLE testkit_flags (name TEXT PRIMARY KEY)");
PLEXUS_REGISTER_RECEPTOR(testkit::Count, "Count");
PLEXUS_REGISTER_PERSPECTIVE(testkit::CountLog, "Counted");
PLEXUS_REGISTER_ROUTE(testkit::PostCount, "POST", "/t/count");
PLEXUS_REGISTER_ROUTE(testkit::GetCount, "GET", "/t/count/{stream}");
PLEXUS_REGISTER_ROUTE(testkit::SetFlag, "PUT", "/t/flags/{name}");
PLEXUS_REGISTER_ROUTE(testkit::PostAfterCommit, "POST", "/t/post");
PLEXUS_REGISTER_ROUTE(testkit::ClearFlag, "DELETE", "/t/flags/{name}");

PLEXUS_REGISTER_RECEPTOR(testkit::Work, "Work");
PLEXUS_REGISTER_ROUTE(testkit::PostWork, "POST", "/t/work");
PLEXUS_REGISTER_ROUTE(testkit::Slow, "GET", "/t/slow");
PLEXUS_REGISTER_ROUTE(testkit::Throw, "GET", "/t/throw");
PLEXUS_REGISTER_ROUTE(testkit::Fatal, "POST", "/t/fatal");
PLEXUS_REGISTER_ROUTE(testkit::Headers, "GET", "/t/echo-headers");
PLEXUS_REGISTER_ROUTE(testkit::Size, "POST", "/t/size");
PLEXUS_REGISTER_ROUTE(testkit::ConfigRoute, "GET", "/t/config");
PLEXUS_PLUGIN("testkit", "0.1.0");
