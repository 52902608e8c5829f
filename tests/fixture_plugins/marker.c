/* Writes a marker file from a static constructor. Trust tests prove it never runs when a pre-dlopen
 * check refuses the file (and that it does run when the checks pass, so the test can fail). */
#include <plexus/abi/plugin_abi.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void plexus_test_marker(void) {
  const char* path = getenv("PLEXUS_TEST_MARKER");
  if (path != NULL) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) close(fd);
  }
}

static const plexus_plugin_desc desc = {sizeof(plexus_plugin_desc),
                                        PLEXUS_ABI_MAJOR,
                                        PLEXUS_ABI_MINOR,
                                        "marker",
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
const plexus_plugin_desc* plexus_plugin_entry_v1(void) { return &desc; }
