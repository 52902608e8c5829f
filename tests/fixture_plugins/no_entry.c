/* A shared object that is not a Plexus plugin: no plexus_plugin_entry_v1. */
#include <plexus/abi/plugin_abi.h>

PLEXUS_ABI_EXPORT int some_other_symbol(void);
int some_other_symbol(void) { return 42; }
