// The smallest useful plugin: proves the path route -> local receptor -> response through the real
// loader, with plugin config and a plugin-defined metric counted after commit.
#include <plexus/sdk/plugin.hpp>

namespace echo {

// Receptor for the "Echo" command: validates and answers the message back, stamped.
class EchoReceptor final : public plexus::Receptor {
 public:
  explicit EchoReceptor(plexus::Host& host)
      : prefix_(host.config().value("prefix", std::string())),
        echoed_(host.counter("echo_messages_total", "Echo commands handled successfully.")) {}

  plexus::Result handle(plexus::Context& ctx, const plexus::Message& cmd) override {
    const plexus::Json body = cmd.json();
    if (!body.is_object() || !body.contains("message") || !body["message"].is_string()) {
      return plexus::reject("\"message\" must be a string");
    }
    const std::string message = body["message"].get<std::string>();
    if (message.empty()) return plexus::reject("\"message\" must not be empty");
    ctx.afterCommit([this] { echoed_.increment(); });
    return plexus::ok(plexus::Json{
        {"id", ctx.newId()},
        {"message", prefix_ + message},
        {"correlation", std::string(cmd.correlation())},
        {"echoedAtMs",
         ctx.nowMs()}}.dump());
  }

 private:
  const std::string prefix_;
  const plexus::Metric echoed_;
};

// POST /api/echo {"message": "..."} -> 200 with the receptor's result; 400 when it rejects.
class PostEcho final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const plexus::Json body = req.json();
    const plexus::Result r = ctx.invoke("Echo", body);
    if (r.status == plexus::Status::Reject) return plexus::Response::error(400, r.detail);
    if (r.status != plexus::Status::Ok) return plexus::Response::error(503, "echo unavailable");
    return plexus::Response::json(200, plexus::Json::parse(r.detail));
  }
};

// GET /api/echo/{word}?times=N -> the word repeated; shows path and query parameters.
class GetEcho final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context&, const plexus::Request& req) override {
    const std::string word = req.param("word").value_or("");
    int times = 1;
    if (auto t = req.query("times")) {
      try {
        size_t used = 0;
        times = std::stoi(*t, &used);
        if (used != t->size()) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        throw plexus::BadRequest("times must be an integer");
      }
      if (times < 1 || times > 10) throw plexus::BadRequest("times must be between 1 and 10");
    }
    plexus::Json words = plexus::Json::array();
    for (int i = 0; i < times; ++i) words.push_back(word);
    return plexus::Response::json(200, plexus::Json{{"words", words}});
  }
};

}  // namespace echo

PLEXUS_REGISTER_RECEPTOR(echo::EchoReceptor, plexus::command("Echo"));
PLEXUS_REGISTER_ROUTE(echo::PostEcho, "POST", "/api/echo");
PLEXUS_REGISTER_ROUTE(echo::GetEcho, "GET", "/api/echo/{word}");
PLEXUS_PLUGIN("echo", "1.0.0");
