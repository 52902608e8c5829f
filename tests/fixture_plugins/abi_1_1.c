/* A plugin as built against ABI 1.1: its receptor descriptor ends before `message_kinds` (the 1.2
 * field), and its descriptor says minor 1. It must keep loading in a 1.2 host, its types
 * undeclared. */
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

static const char* const types[] = {"Ping", "Pinged"};
/* The 1.1 struct is the 1.2 one without its last field; a 1.1 build wrote exactly this size. */
static const plexus_receptor_desc receptor = {
    (uint32_t)offsetof(plexus_receptor_desc, message_kinds),
    0,
    "Old",
    types,
    2,
    create,
    handle,
    destroy,
    0};
static const plexus_receptor_desc* const receptors[] = {&receptor};
static const plexus_plugin_desc desc = {
    sizeof(plexus_plugin_desc), 1, 1, "old", "1.1.0", receptors, 1, 0, 0, 0, 0, 0, 0};

PLEXUS_ABI_EXPORT const plexus_plugin_desc* plexus_plugin_entry_v1(void);
const plexus_plugin_desc* plexus_plugin_entry_v1(void) { return &desc; }
