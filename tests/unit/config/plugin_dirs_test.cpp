// plugin_dir (one directory) and plugin_dirs (several, searched in order).
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using plexus::config::Config;
using plexus::config::ConfigError;

Config parse(const std::string& text) {
  return plexus::config::parse(text, "dirs.json", [](const std::string&) { return std::nullopt; });
}

// Two plugin directories in a fresh temporary directory; removed at the end of the test.
class PluginDirs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/plexus-dirs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directory(first());
    fs::create_directory(second());
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string first() const { return root_ + "/first"; }
  std::string second() const { return root_ + "/second"; }
  static void touch(const std::string& path) { std::ofstream(path) << "x"; }
  std::string config(const std::string& library) const {
    return R"({"service": "s", "plugin_dirs": [")" + first() + R"(", ")" + second() +
           R"("], "plugins": [{"library": ")" + library + R"("}]})";
  }
  void expectError(const std::string& text, const std::string& path, const std::string& fragment) {
    try {
      parse(text);
      FAIL() << "expected a ConfigError at " << path;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.path(), path) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }

  std::string root_;
};

TEST_F(PluginDirs, BareNameIsFoundInTheFirstDirectoryThatHasIt) {
  touch(second() + "/plexus_b.so");
  const Config c = parse(config("plexus_b.so"));
  EXPECT_TRUE(c.pluginDirGiven);
  EXPECT_EQ(c.pluginDirs, (std::vector<std::string>{first(), second()}));
  EXPECT_EQ(c.plugins.at(0).path, second() + "/plexus_b.so");
}

TEST_F(PluginDirs, EarlierDirectoryWins) {
  touch(first() + "/plexus_b.so");
  touch(second() + "/plexus_b.so");
  EXPECT_EQ(parse(config("plexus_b.so")).plugins.at(0).path, first() + "/plexus_b.so");
}

TEST_F(PluginDirs, SymlinkInAnEarlierDirectoryIsFoundSoTheLoaderRefusesIt) {
  // The lookup must not skip a planted symlink and quietly load the later directory's file.
  touch(second() + "/plexus_b.so");
  fs::create_symlink(second() + "/plexus_b.so", first() + "/plexus_b.so");
  EXPECT_EQ(parse(config("plexus_b.so")).plugins.at(0).path, first() + "/plexus_b.so");
}

TEST_F(PluginDirs, NameInNoDirectoryNamesTheDirectories) {
  expectError(config("plexus_missing.so"), "/plugins/0/library",
              "\"plexus_missing.so\" is in none of the plugin directories (" + first() + ", " +
                  second() + ")");
}

TEST_F(PluginDirs, PathWithSlashIsNotLookedUp) {
  EXPECT_EQ(parse(config("./x/plexus_a.so")).plugins.at(0).path, "x/plexus_a.so");
}

TEST_F(PluginDirs, BothKeysAreRefused) {
  expectError(R"({"service": "s", "plugin_dir": "/a", "plugin_dirs": ["/b"], "plugins": []})",
              "/plugin_dirs", "either plugin_dir (one directory) or plugin_dirs");
}

TEST_F(PluginDirs, BadListsAreRefused) {
  expectError(R"({"service": "s", "plugin_dirs": [], "plugins": []})", "/plugin_dirs",
              "must not be empty");
  expectError(R"({"service": "s", "plugin_dirs": "/a", "plugins": []})", "/plugin_dirs",
              "expected an array");
  expectError(R"({"service": "s", "plugin_dirs": ["/a", ""], "plugins": []})", "/plugin_dirs/1",
              "must not be empty");
  expectError(R"({"service": "s", "plugin_dirs": ["/a", "/a/"], "plugins": []})", "/plugin_dirs/1",
              "listed twice");
}

TEST_F(PluginDirs, OneDirectoryNeedsNoLookup) {
  // plugin_dir keeps its meaning: the path is formed without looking at the file system.
  const Config c =
      parse(R"({"service": "s", "plugin_dir": "/opt/p", "plugins": [{"library": "plexus_b.so"}]})");
  EXPECT_EQ(c.pluginDirs, std::vector<std::string>{"/opt/p"});
  EXPECT_EQ(c.plugins.at(0).path, "/opt/p/plexus_b.so");
}

TEST_F(PluginDirs, NeitherKeyMeansTheWorkingDirectoryAndNoAllowList) {
  const Config c = parse(R"({"service": "s", "plugins": []})");
  EXPECT_FALSE(c.pluginDirGiven);
  EXPECT_EQ(c.pluginDirs, std::vector<std::string>{"."});
}

}  // namespace
