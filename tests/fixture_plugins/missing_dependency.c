/* Links a library that is not on the search path at run time: dlopen must fail and name it. */
#include <plexus/abi/plugin_abi.h>

int plexus_test_dependency_value(void);

static const plexus_plugin_desc desc = {sizeof(plexus_plugin_desc),
                                        PLEXUS_ABI_MAJOR,
                                        PLEXUS_ABI_MINOR,
                                        "needs_dep",
                                        "0.0.1",
                                        0,
                                        0,
                                        0,
                                        0,
                                        0,
                                        0,
                                        0,
                                        0};
PLEXUS_ABI_EXPORT const plexus_plugin_desc* plexus_plugin_entry_v1(void);
const plexus_plugin_desc* plexus_plugin_entry_v1(void) {
  return plexus_test_dependency_value() == 7 ? &desc : 0;
}
