// An out-of-tree plugin built against the installed SDK.
#include <plexus/sdk/plugin.hpp>

class Greet final : public plexus::Route {
 public:
  explicit Greet(plexus::Host& host) : greeting_(host.config().value("greeting", "hello")) {}
  plexus::Response handle(plexus::Context&, const plexus::Request& req) override {
    return plexus::Response::json(
        200, plexus::Json{{"greeting", greeting_ + ", " + req.param("name").value_or("?")}});
  }

 private:
  std::string greeting_;
};

PLEXUS_REGISTER_ROUTE(Greet, "GET", "/acme/greet/{name}");
PLEXUS_PLUGIN("acme_greeter", "2.3.4");
