// Loader refusals, each with the path and the reason, through real .so files.
#include "plugin/loader.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

using plexus::plugin::PluginError;
using plexus::test::TempDir;
using plexus::test::testPlugin;

// Expects load() to refuse `path` with a reason containing `fragment`.
void expectRefused(const std::string& path, const std::string& fragment,
                   const std::optional<std::string>& sha = std::nullopt) {
  try {
    plexus::plugin::load(path, sha);
    FAIL() << "expected " << path << " to be refused (" << fragment << ")";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find(fragment), std::string::npos) << e.reason();
  }
}

TEST(Loader, LoadsAWellFormedPlugin) {
  auto p = plexus::plugin::load(testPlugin("testkit"), std::nullopt);
  EXPECT_EQ(p->name, "testkit");
  EXPECT_EQ(p->version, "0.1.0");
  EXPECT_EQ(p->receptors.size(), 2u);
  EXPECT_EQ(p->routes.size(), 12u);
  EXPECT_EQ(p->perspectives.size(), 1u);
  EXPECT_EQ(p->migrations.size(), 1u);
  EXPECT_EQ(p->receptorTypes[0], std::vector<std::string>{"Count"});  // registration order
  EXPECT_EQ(p->receptorTypes[1], std::vector<std::string>{"Work"});
}

TEST(Loader, RefusesAbiMajorMismatch) {
  expectRefused(testPlugin("test_abi_major"), "ABI major 2");
}
TEST(Loader, RefusesNewerMinor) {
  expectRefused(testPlugin("test_newer_minor"), "newer than this host");
}
TEST(Loader, RefusesMissingEntrySymbol) {
  expectRefused(testPlugin("test_no_entry"), "no entry symbol plexus_plugin_entry_v1");
}
TEST(Loader, RefusesNullDescriptor) {
  expectRefused(testPlugin("test_null_descriptor"), "no descriptor");
}
TEST(Loader, RefusesDuplicateComponent) {
  expectRefused(testPlugin("test_duplicate_component"), "duplicate component name \"Same\"");
}
TEST(Loader, NamesAMissingDependency) {
  expectRefused(testPlugin("test_missing_dependency"), "libplexus_test_missing_dep.so");
}
TEST(Loader, RefusesAMissingFile) { expectRefused("/nonexistent/plexus_x.so", "cannot access"); }
TEST(Loader, RefusesANonElfFile) {
  TempDir dir;
  expectRefused(dir.write("plexus_text.so", "not an ELF file"), "cannot be loaded");
}

// The trust checks run before dlopen: the marker plugin's static constructor must never run when
// they refuse, and must run when they pass (so these tests can fail).
class Trust : public ::testing::Test {
 protected:
  void SetUp() override {
    marker_ = dir_.file("constructor-ran");
    ::setenv("PLEXUS_TEST_MARKER", marker_.c_str(), 1);
    sub_ = dir_.path() + "/plugins";
    std::filesystem::create_directory(sub_);
    ::chmod(sub_.c_str(), 0755);
  }
  void TearDown() override { ::unsetenv("PLEXUS_TEST_MARKER"); }
  // A fresh copy of the marker plugin in the plugins subdirectory.
  std::string freshCopy(const std::string& name = "plexus_marker.so") {
    const std::string p = sub_ + "/" + name;
    std::filesystem::copy_file(testPlugin("test_marker"), p,
                               std::filesystem::copy_options::overwrite_existing);
    ::chmod(p.c_str(), 0755);
    return p;
  }
  bool constructorRan() const { return std::filesystem::exists(marker_); }

  TempDir dir_;
  std::string marker_;
  std::string sub_;
};

TEST_F(Trust, Sha256PinMatchLoads) {
  const std::string p = freshCopy("plexus_marker_ok.so");
  plexus::plugin::load(p, plexus::plugin::sha256Hex(p));
  EXPECT_TRUE(constructorRan());
}

TEST_F(Trust, Sha256MismatchNeverRuns) {
  const std::string p = freshCopy("plexus_marker_pin.so");
  const std::string wrong(64, 'a');
  expectRefused(p, "sha256 mismatch", wrong);
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, FlippedByteNeverRuns) {
  const std::string p = freshCopy("plexus_marker_flip.so");
  const std::string pin = plexus::plugin::sha256Hex(p);
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x5a');
  }
  expectRefused(p, "sha256 mismatch", pin);
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, GroupWritableFileNeverRuns) {
  const std::string p = freshCopy("plexus_marker_gw.so");
  ::chmod(p.c_str(), 0775);
  expectRefused(p, "writable by group or others (mode 0775)");
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, WorldWritableDirectoryNeverRuns) {
  const std::string p = freshCopy("plexus_marker_wd.so");
  ::chmod(sub_.c_str(), 0777);
  expectRefused(p, "its directory");
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, WrongOwnerNeverRuns) {
  const std::string p = freshCopy("plexus_marker_owner.so");
  if (geteuid() != 0) GTEST_SKIP() << "changing a file's owner needs root";
  ASSERT_EQ(::chown(p.c_str(), 4242, 4242), 0);
  expectRefused(p, "owned by uid 4242");
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, SymlinkNeverRuns) {
  const std::string target = freshCopy("plexus_marker_target.so");
  const std::string link = sub_ + "/plexus_marker_link.so";
  std::filesystem::create_symlink(target, link);
  expectRefused(link, "symbolic link");
  EXPECT_FALSE(constructorRan());
}

// The whole set: a plugin's components filter and cross-plugin conflicts.
plexus::config::Config configWith(const std::string& json) {
  return plexus::config::parse(json, "inline.json",
                               [](const std::string&) { return std::nullopt; });
}

TEST(RuntimeStart, UnknownComponentIsRefused) {
  plexus::Metrics metrics;
  plexus::plugin::Runtime rt(metrics);
  auto cfg = configWith(R"({"service": "t", "plugins": [{"library": ")" + testPlugin("testkit") +
                        R"(", "components": ["Work", "Nope"]}]})");
  try {
    rt.start(cfg);
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_NE(e.reason().find("\"Nope\""), std::string::npos) << e.what();
  }
}

TEST(RuntimeStart, ComponentsFilterKeepsOnlyListed) {
  plexus::Metrics metrics;
  plexus::plugin::Runtime rt(metrics);
  rt.start(configWith(R"({"service": "t", "plugins": [{"library": ")" + testPlugin("testkit") +
                      R"(", "components": ["Work", "Size"]}]})"));
  EXPECT_EQ(rt.componentCount(), 2u);
  ASSERT_EQ(rt.routes().size(), 1u);
  EXPECT_EQ(rt.routes()[0].pathTemplate, "/t/size");
}

TEST(RuntimeStart, SamePluginNameTwiceIsRefused) {
  TempDir dir;
  const std::string copy = dir.copy(testPlugin("testkit"), "plexus_testkit_copy.so");
  plexus::Metrics metrics;
  plexus::plugin::Runtime rt(metrics);
  try {
    rt.start(configWith(R"({"service": "t", "plugins": [{"library": ")" + testPlugin("testkit") +
                        R"("}, {"library": ")" + copy + R"("}]})"));
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_EQ(e.path(), copy);
    EXPECT_NE(e.reason().find("already loaded"), std::string::npos) << e.what();
  }
}

TEST(RuntimeStart, FailingConstructorIsRefused) {
  plexus::Metrics metrics;
  plexus::plugin::Runtime rt(metrics);
  try {
    rt.start(configWith(R"({"service": "t", "plugins": [{"library": ")" +
                        testPlugin("test_create_fails") + R"("}]})"));
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_NE(e.reason().find("\"Doomed\" failed to start"), std::string::npos) << e.what();
  }
}

}  // namespace
