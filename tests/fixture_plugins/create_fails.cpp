// A component whose constructor throws: the SDK logs it and create returns NULL; the host refuses.
#include <plexus/sdk/plugin.hpp>

#include <stdexcept>

class Doomed final : public plexus::Receptor {
 public:
  Doomed() { throw std::runtime_error("missing required config key 'api_key'"); }
  plexus::Result handle(plexus::Context&, const plexus::Message&) override { return plexus::ok(); }
};

PLEXUS_REGISTER_RECEPTOR(Doomed, "Doom");
PLEXUS_PLUGIN("create_fails", "0.0.1");
