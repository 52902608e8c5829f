// The plugin guide's example (docs/plugin-guide.md): every line of C++ the guide shows is in this
// folder, compiled and tested by the default build, so the guide cannot drift from the code.
#pragma once
// [components]
#include <plexus/sdk/plugin.hpp>

#include <string>

namespace acme {

// Owns the "Greet" command: validates it, stores the greeting, announces it, answers it.
class Greeter final : public plexus::Receptor {
 public:
  explicit Greeter(plexus::Host& host)
      : greeting_(host.config().value("greeting", std::string("hello"))),
        greeted_(host.counter("acme_greetings_total", "Greetings handed out.")) {}

  plexus::Result handle(plexus::Context& ctx, const plexus::Message& cmd) override {
    const plexus::Json body = cmd.json();  // malformed JSON: REJECT with the reason
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
      return plexus::reject("\"name\" must be a string");
    }
    const std::string name = body["name"].get<std::string>();
    if (name.empty()) return plexus::reject("\"name\" must not be empty");
    const plexus::Json greeting{{"id", ctx.newId()}, {"greeting", greeting_ + ", " + name}};
    ctx.emit("Greeted", greeting);                      // event store + outbox, same transaction
    ctx.afterCommit([this] { greeted_.increment(); });  // counted only once committed
    return plexus::ok(greeting.dump());                 // what an invoking route receives
  }

 private:
  const std::string greeting_;
  const plexus::Metric greeted_;
};

// POST /acme/greetings {"name": "..."}: runs the Greet receptor in this process, in this
// request's transaction.
class PostGreeting final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const plexus::Result r = ctx.invoke("Greet", req.json());  // malformed JSON -> 400
    if (r.status == plexus::Status::Reject) return plexus::Response::error(400, r.detail);
    if (r.status != plexus::Status::Ok) return plexus::Response::error(503, "greeter unavailable");
    return plexus::Response::json(201, plexus::Json::parse(r.detail));
  }
};

// GET /acme/greetings/{name}?times=N: path and query parameters, and a route's own SQL.
class GetGreeting final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const std::string name = req.param("name").value_or("");
    const std::string times = req.query("times").value_or("1");
    if (times != "1" && times != "2" && times != "3") {
      throw plexus::BadRequest("times must be 1, 2 or 3");  // -> 400 {"error": "..."}
    }
    const plexus::Rows seen = ctx.sql("SELECT count(*) FROM acme_greeted WHERE name = $1", name);
    plexus::Json out = plexus::Json::array();
    for (int i = 0; i < std::stoi(times); ++i) out.push_back("hello, " + name);
    return plexus::Response::json(200, {{"greetings", out}, {"seen", seen.at(0).at(0).asInt()}});
  }
};
// [/components]

// [perspective]
// Projects Greeted events into a read model. Keyed by the event id, so a redelivered event
// changes nothing.
class GreetedNames final : public plexus::Perspective {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& event) override {
    const plexus::Json e = event.json();
    const std::string greeting = e.value("greeting", std::string());
    const std::string name = greeting.substr(greeting.find(", ") + 2);
    ctx.exec(
        "INSERT INTO acme_greeted (event_id, name) VALUES ($1, $2) "
        "ON CONFLICT (event_id) DO NOTHING",
        std::string(event.id()), name);
    return plexus::ok();
  }
};
// [/perspective]

}  // namespace acme
