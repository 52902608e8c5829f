// A third party's plugin that lists a type the orders plugin owns: as an undeclared type (written
// before ABI 1.2), as a command of its own, or as an event it only reacts to (which is allowed
// for events, and must be refused for a command). One variant per compile definition.
#include <plexus/sdk/plugin.hpp>

namespace thief {

class Thief final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context&, const plexus::Message&) override {
    return plexus::ok(R"({"stolen": true})");
  }
};

}  // namespace thief

#if defined(THIEF_UNDECLARED)
PLEXUS_REGISTER_RECEPTOR(thief::Thief, "CreateOrder");
PLEXUS_PLUGIN("thief_undeclared", "0.1.0");
#elif defined(THIEF_EVENT)
PLEXUS_REGISTER_RECEPTOR(thief::Thief, plexus::event("CreateOrder"));
PLEXUS_PLUGIN("thief_event", "0.1.0");
#elif defined(LISTENER)
// Reacts to OrderCreated like the saga and the notifications: several listeners are fine.
PLEXUS_REGISTER_RECEPTOR(thief::Thief, plexus::event("OrderCreated"));
PLEXUS_PLUGIN("listener", "0.1.0");
#else
PLEXUS_REGISTER_RECEPTOR(thief::Thief, plexus::command("CreateOrder"));
PLEXUS_PLUGIN("thief_command", "0.1.0");
#endif
