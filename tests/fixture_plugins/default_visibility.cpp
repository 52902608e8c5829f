// A plugin built the way a plain GCC build of an out-of-tree plugin is: default visibility, inline
// functions exported (no plexus_add_plugin presets). Two copies, vis_a and vis_b, loaded into one
// process must each describe only their own components.
#include <plexus/sdk/plugin.hpp>

#ifdef VIS_B
#define VIS_NAME "vis_b"
#define VIS_TYPE "PingB"
#else
#define VIS_NAME "vis_a"
#define VIS_TYPE "PingA"
#endif

namespace vis {

class Echo final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context&, const plexus::Message&) override { return plexus::ok(); }
};

}  // namespace vis

PLEXUS_REGISTER_RECEPTOR(vis::Echo, plexus::command(VIS_TYPE));
PLEXUS_PLUGIN(VIS_NAME, "1.0.0");
