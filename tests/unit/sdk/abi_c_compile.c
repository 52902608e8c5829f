/* Compiles the ABI header as strict C11: it must not need anything C++. */
#include <plexus/abi/plugin_abi.h>

_Static_assert(sizeof(plexus_plugin_desc) == 88, "plugin descriptor layout");

int plexus_abi_c_sizes(size_t* sizes, size_t n);
int plexus_abi_c_sizes(size_t* sizes, size_t n) {
  const size_t all[8] = {sizeof(plexus_str),        sizeof(plexus_value),
                         sizeof(plexus_message),    sizeof(plexus_request),
                         sizeof(plexus_host_api),   sizeof(plexus_receptor_desc),
                         sizeof(plexus_route_desc), sizeof(plexus_plugin_desc)};
  size_t i;
  for (i = 0; i < n && i < 8; ++i) sizes[i] = all[i];
  return (int)i;
}
