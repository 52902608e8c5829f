// Loads one plugin through the real loader and returns from main. The exit handler is registered
// before the load, so it runs after every static destructor the load registered: it prints whether
// the plugin's code is still mapped at that point ("mapped" is what the host promises).
#include "plugin/loader.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace {

void* pluginCode = nullptr;

void report() {
  Dl_info info{};
  std::printf("%s\n", ::dladdr(pluginCode, &info) != 0 ? "mapped" : "unmapped");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PLUGIN.so (a plugin with at least one receptor)\n", argv[0]);
    return 2;
  }
  std::atexit(&report);
  auto plugin = plexus::plugin::load(argv[1], std::nullopt);
  pluginCode = reinterpret_cast<void*>(plugin->receptors.at(0).handle);
  return 0;
}
