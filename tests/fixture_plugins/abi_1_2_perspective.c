/* A perspective as built against ABI 1.2: its descriptor ends before `projection` (the 1.3 field)
 * and the plugin says minor 2. What lies beyond its struct_size (here a 1, "inline") must never be
 * read: the perspective stays asynchronous in a 1.3 host. */
#include <plexus/abi/plugin_abi.h>

#include <stddef.h>

static void* create(const plexus_host_api* api, plexus_host* host) {
  (void)api;
  (void)host;
  static int instance;
  return &instance;
}
static plexus_status handle(void* i, plexus_call* c, const plexus_message* m) {
  (void)i;
  (void)c;
  (void)m;
  return PLEXUS_OK;
}
static void destroy(void* i) { (void)i; }

static const char* const types[] = {"ThingRecorded"};
static const plexus_perspective_desc perspective = {
    (uint32_t)offsetof(plexus_perspective_desc, projection),
    0,
    "OldView",
    types,
    1,
    create,
    handle,
    destroy,
    PLEXUS_PROJECTION_INLINE};
static const plexus_perspective_desc* const perspectives[] = {&perspective};
static const plexus_plugin_desc desc = {
    sizeof(plexus_plugin_desc), 1, 2, "old_view", "1.2.0", 0, 0, perspectives, 1, 0, 0, 0, 0};

PLEXUS_ABI_EXPORT const plexus_plugin_desc* plexus_plugin_entry_v1(void);
const plexus_plugin_desc* plexus_plugin_entry_v1(void) { return &desc; }
