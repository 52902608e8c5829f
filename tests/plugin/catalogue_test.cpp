// The event catalogue covers every message type the in-tree plugins handle: each has exactly one
// JSON Schema, beside the plugin that owns it (plugins/<name>/schemas/<Type>.json). The e2e
// scenarios check every message actually sent against them (tests/e2e, the last test).
#include "plugin/loader.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <plexus/testing/json_schema.hpp>

#include <filesystem>

namespace {

TEST(Catalogue, EveryHandledMessageTypeHasOneSchema) {
  namespace fs = std::filesystem;
  std::vector<std::string> dirs;
  for (const auto& entry : fs::directory_iterator(PLEXUS_SOURCE_DIR "/plugins")) {
    if (fs::is_directory(entry.path() / "schemas"))
      dirs.push_back((entry.path() / "schemas").string());
  }
  const plexus::testing::SchemaCatalogue catalogue(dirs);  // throws on a type with two schemas
  int plugins = 0;
  for (const auto& entry : fs::directory_iterator(PLEXUS_PLUGIN_DIR)) {
    if (entry.path().extension() != ".so") continue;
    auto p = plexus::plugin::load(entry.path().string(), std::nullopt);
    ++plugins;
    for (const auto& list : {p->receptorTypes, p->perspectiveTypes}) {
      for (const auto& types : list) {
        for (const auto& t : types)
          EXPECT_TRUE(catalogue.has(t)) << p->name << " handles " << t << ", which has no schema";
      }
    }
  }
  EXPECT_GE(plugins, 10);
}

}  // namespace
