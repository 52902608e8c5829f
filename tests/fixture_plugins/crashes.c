/* A C plugin with a NULL dereference in its handlers (defect 5 of issue 16): the process cannot
 * survive it, but must leave a log line naming the plugin, the component and the route or
 * message. Core dumps are turned off first, so a test run leaves no core file behind. */
#include <plexus/abi/plugin_abi.h>

#include <stddef.h>
#include <sys/resource.h>

static const plexus_host_api* host_api;

static void* create(const plexus_host_api* api, plexus_host* host) {
  (void)host;
  static int instance;
  host_api = api;
  return &instance;
}
static void destroy(void* i) { (void)i; }

static void crash(void) {
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  volatile int* nowhere = NULL;
  *nowhere = 1;
}

static plexus_status explode(void* i, plexus_call* c, const plexus_message* m) {
  (void)i;
  (void)c;
  (void)m;
  crash();
  return PLEXUS_OK;
}
static plexus_status null_deref(void* i, plexus_call* c, const plexus_request* r) {
  (void)i;
  (void)c;
  (void)r;
  crash();
  return PLEXUS_OK;
}
static plexus_status invoke_explode(void* i, plexus_call* c, const plexus_request* r) {
  const plexus_str type = {"Explode", 7};
  const plexus_str stream = {"s-1", 3};
  const plexus_str payload = {"{}", 2};
  (void)i;
  (void)r;
  return host_api->invoke(c, type, stream, payload, NULL, NULL);
}

static const char* const types[] = {"Explode"};
static const plexus_message_kind kinds[] = {PLEXUS_MESSAGE_COMMAND};
static const plexus_receptor_desc receptor = {
    sizeof(plexus_receptor_desc), 0, "Explode", types, 1, create, explode, destroy, kinds};
static const plexus_receptor_desc* const receptors[] = {&receptor};
static const plexus_route_desc route_null = {
    sizeof(plexus_route_desc), 0, "NullDeref", "GET", "/crash/null", create, null_deref, destroy};
static const plexus_route_desc route_invoke = {
    sizeof(plexus_route_desc), 0,      "InvokeExplode", "POST",
    "/crash/invoke",           create, invoke_explode,  destroy};
static const plexus_route_desc* const routes[] = {&route_null, &route_invoke};
static const plexus_plugin_desc desc = {sizeof(plexus_plugin_desc),
                                        PLEXUS_ABI_MAJOR,
                                        PLEXUS_ABI_MINOR,
                                        "crashes",
                                        "0.1.0",
                                        receptors,
                                        1,
                                        0,
                                        0,
                                        routes,
                                        2,
                                        0,
                                        0};

PLEXUS_ABI_EXPORT const plexus_plugin_desc* plexus_plugin_entry_v1(void);
const plexus_plugin_desc* plexus_plugin_entry_v1(void) { return &desc; }
