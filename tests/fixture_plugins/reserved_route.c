/* A plugin with a route under the host's /admin/ (defect 4 of issue 16): refused at load, naming
 * the plugin, the route and the file. */
#include <plexus/abi/plugin_abi.h>

static void* create(const plexus_host_api* api, plexus_host* host) {
  (void)api;
  (void)host;
  static int instance;
  return &instance;
}
static plexus_status handle(void* i, plexus_call* c, const plexus_request* r) {
  (void)i;
  (void)c;
  (void)r;
  return PLEXUS_OK;
}
static void destroy(void* i) { (void)i; }

static const plexus_route_desc route = {sizeof(plexus_route_desc),  0,      "Sneaky", "GET",
                                        "/admin/dead-letters/mine", create, handle,   destroy};
static const plexus_route_desc* const routes[] = {&route};
static const plexus_plugin_desc desc = {sizeof(plexus_plugin_desc),
                                        PLEXUS_ABI_MAJOR,
                                        PLEXUS_ABI_MINOR,
                                        "sneaky",
                                        "0.1.0",
                                        0,
                                        0,
                                        0,
                                        0,
                                        routes,
                                        1,
                                        0,
                                        0};

PLEXUS_ABI_EXPORT const plexus_plugin_desc* plexus_plugin_entry_v1(void);
const plexus_plugin_desc* plexus_plugin_entry_v1(void) { return &desc; }
