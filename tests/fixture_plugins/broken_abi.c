/* Deliberately broken descriptors, one per compile definition. Written in plain C against the ABI
 * header, the way a careless third party might. */
#include <plexus/abi/plugin_abi.h>

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

static const char* const types_a[] = {"A"};
static const char* const types_b[] = {"B"};
static const plexus_receptor_desc first = {
    sizeof(plexus_receptor_desc), 0, "Same", types_a, 1, create, handle, destroy};
static const plexus_receptor_desc second = {
    sizeof(plexus_receptor_desc), 0, "Same", types_b, 1, create, handle, destroy};
static const plexus_receptor_desc* const receptors[] = {&first, &second};

static const plexus_plugin_desc desc = {sizeof(plexus_plugin_desc),
#if defined(BROKEN_ABI_MAJOR)
                                        PLEXUS_ABI_MAJOR + 1,
                                        0,
#elif defined(BROKEN_NEWER_MINOR)
                                        PLEXUS_ABI_MAJOR,
                                        PLEXUS_ABI_MINOR + 1,
#else
                                        PLEXUS_ABI_MAJOR,
                                        PLEXUS_ABI_MINOR,
#endif
                                        "broken",
                                        "0.0.1",
                                        receptors,
#if defined(BROKEN_DUPLICATE_COMPONENT)
                                        2,
#else
                                        1,
#endif
                                        0,
                                        0,
                                        0,
                                        0,
                                        0,
                                        0};

PLEXUS_ABI_EXPORT const plexus_plugin_desc* plexus_plugin_entry_v1(void);
const plexus_plugin_desc* plexus_plugin_entry_v1(void) {
#if defined(BROKEN_NULL_DESCRIPTOR)
  return 0;
#else
  return &desc;
#endif
}
