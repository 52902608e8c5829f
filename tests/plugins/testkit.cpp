// A well-behaved plugin exercising every hook the host offers today; the plugin-tier tests drive
// it over real HTTP through the real loader.
#include <plexus/sdk/plugin.hpp>

#include <chrono>
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

}  // namespace testkit

PLEXUS_REGISTER_RECEPTOR(testkit::Work, "Work");
PLEXUS_REGISTER_ROUTE(testkit::PostWork, "POST", "/t/work");
PLEXUS_REGISTER_ROUTE(testkit::Slow, "GET", "/t/slow");
PLEXUS_REGISTER_ROUTE(testkit::Throw, "GET", "/t/throw");
PLEXUS_REGISTER_ROUTE(testkit::Fatal, "POST", "/t/fatal");
PLEXUS_REGISTER_ROUTE(testkit::Headers, "GET", "/t/echo-headers");
PLEXUS_REGISTER_ROUTE(testkit::Size, "POST", "/t/size");
PLEXUS_REGISTER_ROUTE(testkit::ConfigRoute, "GET", "/t/config");
PLEXUS_PLUGIN("testkit", "0.1.0");
