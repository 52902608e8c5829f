// A plugin whose second migration has bad SQL (defect 3 of issue 16): check, run and migrate must
// name the plugin and the migration instead of "Invalid SQL statement: incomplete input".
#include <plexus/sdk/plugin.hpp>

namespace bad {
class Noop final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context&, const plexus::Request&) override {
    return plexus::Response::json(200, plexus::Json::object());
  }
};
}  // namespace bad

PLEXUS_REGISTER_MIGRATION(1, "any", "good table", "CREATE TABLE bad_good (id TEXT PRIMARY KEY)");
PLEXUS_REGISTER_MIGRATION(2, "any", "broken table",
                          "CREATE TABLE bad_ok (id TEXT); CREATE TABLE bad_broken (id TEXT");
PLEXUS_REGISTER_ROUTE(bad::Noop, "GET", "/bad/noop");
PLEXUS_PLUGIN("bad_migration", "0.1.0");
