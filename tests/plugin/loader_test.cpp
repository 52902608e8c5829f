// Loader refusals, each with the path and the reason, through real .so files.
#include "plugin/loader.hpp"
#include "observability/metrics.hpp"
#include "plugin/runtime.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
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
  EXPECT_EQ(p->receptorKinds[1], std::vector<plexus_message_kind>{PLEXUS_MESSAGE_UNDECLARED});
}

TEST(Loader, LoadsAPluginBuiltForAbi11WithItsTypesUndeclared) {
  auto p = plexus::plugin::load(testPlugin("test_abi_1_1"), std::nullopt);
  EXPECT_EQ(p->abiMinor, 1);
  EXPECT_EQ(p->receptorTypes[0], (std::vector<std::string>{"Ping", "Pinged"}));
  EXPECT_EQ(p->receptorKinds[0], (std::vector<plexus_message_kind>{PLEXUS_MESSAGE_UNDECLARED,
                                                                   PLEXUS_MESSAGE_UNDECLARED}));
}

TEST(Loader, PluginsBuiltWithDefaultVisibilityKeepTheirOwnRegistrations) {
  auto a = plexus::plugin::load(testPlugin("test_vis_a"), std::nullopt);
  auto b = plexus::plugin::load(testPlugin("test_vis_b"), std::nullopt);
  EXPECT_EQ(a->name, "vis_a");
  EXPECT_EQ(b->name, "vis_b");
  ASSERT_EQ(b->receptorTypes.size(), 1u);
  EXPECT_EQ(b->receptorTypes[0], std::vector<std::string>{"PingB"});
  EXPECT_EQ(a->receptorTypes[0], std::vector<std::string>{"PingA"});
}

TEST(Loader, APluginStaysLoadedThroughProcessExit) {
  // Static destructors run while other threads may still be inside plugin code: none may dlclose.
  const std::string cmd = std::string(PLEXUS_UNLOAD_PROBE) + " " + testPlugin("test_abi_1_1");
  FILE* probe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(probe, nullptr);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, probe) != nullptr) out += buf;
  EXPECT_EQ(::pclose(probe), 0);
  EXPECT_EQ(out, "mapped\n");
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
TEST(Loader, RefusesARouteUnderTheHostsAdminPathNamingPluginAndRoute) {
  expectRefused(testPlugin("test_reserved_route"),
                "plugin sneaky: route \"Sneaky\" path /admin/dead-letters/mine is under /admin");
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

TEST_F(Trust, ReplacedFileNeverRuns) {
  // The operator pinned the good plugin; someone renames another library over it.
  const std::string p = sub_ + "/plexus_testkit.so";
  std::filesystem::copy_file(testPlugin("testkit"), p);
  const std::string pin = plexus::plugin::sha256Hex(p);
  const std::string other = freshCopy("plexus_marker_new.so");
  std::filesystem::rename(other, p);
  expectRefused(p, "sha256 mismatch", pin);
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, SymlinkSwappedInAfterTheCheckNeverRuns) {
  // A pinned, checked file replaced by a symlink to the marker plugin right before dlopen: the
  // host loads the descriptor it checked, so the checked plugin runs and the marker does not.
  const std::string p = sub_ + "/plexus_testkit.so";
  std::filesystem::copy_file(testPlugin("testkit"), p);
  const std::string marker = freshCopy("plexus_marker_swap.so");
  bool swapped = false;
  plexus::plugin::setBeforeDlopenHookForTesting([&](const std::string& path) {
    std::filesystem::remove(path);
    std::filesystem::create_symlink(marker, path);
    swapped = true;
  });
  std::shared_ptr<plexus::plugin::LoadedPlugin> loaded;
  try {
    loaded = plexus::plugin::load(p, plexus::plugin::sha256Hex(p));
  } catch (...) {
    plexus::plugin::setBeforeDlopenHookForTesting(nullptr);
    throw;
  }
  plexus::plugin::setBeforeDlopenHookForTesting(nullptr);
  ASSERT_TRUE(swapped);
  ASSERT_TRUE(std::filesystem::is_symlink(p));  // the path now names the marker plugin
  EXPECT_EQ(loaded->name, "testkit");
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, SwapBetweenCheckAndLoadLoadsTheCheckedFile) {
  const std::string p = sub_ + "/plexus_testkit.so";
  std::filesystem::copy_file(testPlugin("testkit"), p);
  const std::string marker = freshCopy("plexus_marker_rename.so");
  plexus::plugin::setBeforeDlopenHookForTesting(
      [&](const std::string& path) { std::filesystem::rename(marker, path); });
  std::shared_ptr<plexus::plugin::LoadedPlugin> loaded;
  try {
    loaded = plexus::plugin::load(p, std::nullopt);  // no pin: the fd alone must hold
  } catch (...) {
    plexus::plugin::setBeforeDlopenHookForTesting(nullptr);
    throw;
  }
  plexus::plugin::setBeforeDlopenHookForTesting(nullptr);
  EXPECT_EQ(plexus::plugin::sha256Hex(p), plexus::plugin::sha256Hex(testPlugin("test_marker")));
  EXPECT_EQ(loaded->name, "testkit");
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, GroupWritableFileWithAMatchingPinNeverRuns) {
  // A pin does not excuse a writable file: it could change after the hash.
  const std::string p = freshCopy("plexus_marker_gwpin.so");
  ::chmod(p.c_str(), 0662);
  expectRefused(p, "writable by group or others", plexus::plugin::sha256Hex(p));
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, DirectoryOwnedBySomeoneElseNeverRuns) {
  const std::string p = freshCopy("plexus_marker_downer.so");
  if (geteuid() != 0) GTEST_SKIP() << "changing a directory's owner needs root";
  ASSERT_EQ(::chown(sub_.c_str(), 4242, 4242), 0);
  expectRefused(p, "its directory");
  EXPECT_FALSE(constructorRan());
}

TEST_F(Trust, FifoUnderAPluginNameIsRefusedWithoutHanging) {
  const std::string p = sub_ + "/plexus_fifo.so";
  ASSERT_EQ(::mkfifo(p.c_str(), 0644), 0);
  expectRefused(p, "not a regular file");
}

// plugin_dir, when the config has it, is the allow-list: through config + runtime as deployed.
class AllowList : public Trust {
 protected:
  // The config's plugin_dir (or, in SeveralDirs, plugin_dirs) member, as JSON.
  virtual std::string dirs() const { return R"("plugin_dir": ")" + sub_ + "\""; }
  // Starts a runtime with dirs() (or plugin_dir = pluginDir) and the given library values.
  void start(const std::vector<std::string>& libraries, const std::string& pluginDir = "") {
    const std::string member = pluginDir.empty() ? dirs() : R"("plugin_dir": ")" + pluginDir + "\"";
    std::string list;
    for (const auto& l : libraries)
      list += (list.empty() ? "" : ", ") + ("{\"library\": \"" + l + "\"}");
    const auto cfg =
        plexus::config::parse(R"({"service": "t", )" + member + R"(, "plugins": [)" + list + "]}",
                              "inline.json", [](const std::string&) { return std::nullopt; });
    plexus::Metrics metrics;
    plexus::plugin::Runtime rt(metrics);
    rt.start(cfg);
  }
  void expectStartRefused(const std::vector<std::string>& libraries, const std::string& fragment) {
    try {
      start(libraries);
      FAIL() << "expected the start to be refused (" << fragment << ")";
    } catch (const PluginError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }
};

TEST_F(AllowList, PlainFileNameInPluginDirLoads) {
  freshCopy("plexus_marker_plain.so");
  start({"plexus_marker_plain.so"});
  EXPECT_TRUE(constructorRan());
}

TEST_F(AllowList, AbsolutePathInsidePluginDirLoads) {
  const std::string p = freshCopy("plexus_marker_abs.so");
  start({p});
  EXPECT_TRUE(constructorRan());
}

TEST_F(AllowList, UnlistedLibraryInPluginDirNeverRuns) {
  std::filesystem::copy_file(testPlugin("testkit"), sub_ + "/plexus_testkit.so");
  freshCopy("plexus_marker_unlisted.so");
  start({"plexus_testkit.so"});
  EXPECT_FALSE(constructorRan());
}

TEST_F(AllowList, DotDotOutOfPluginDirNeverRuns) {
  std::filesystem::copy_file(testPlugin("test_marker"), dir_.path() + "/plexus_marker_up.so");
  // A library with '/' is a path; "<plugin_dir>/../x.so" climbs out of the allow-list.
  expectStartRefused({sub_ + "/../plexus_marker_up.so"}, "outside the plugin directory");
  EXPECT_FALSE(constructorRan());
}

TEST_F(AllowList, AbsolutePathOutsidePluginDirNeverRuns) {
  const std::string outside = dir_.path() + "/plexus_marker_out.so";
  std::filesystem::copy_file(testPlugin("test_marker"), outside);
  expectStartRefused({outside}, "outside the plugin directory");
  EXPECT_FALSE(constructorRan());
}

TEST_F(AllowList, SubdirectoryOfPluginDirNeverRuns) {
  std::filesystem::create_directory(sub_ + "/nested");
  ::chmod((sub_ + "/nested").c_str(), 0755);
  std::filesystem::copy_file(testPlugin("test_marker"), sub_ + "/nested/plexus_marker_sub.so");
  expectStartRefused({sub_ + "/nested/plexus_marker_sub.so"}, "outside the plugin directory");
  EXPECT_FALSE(constructorRan());
}

TEST_F(AllowList, SymlinkedFileInPluginDirNeverRuns) {
  const std::string outside = dir_.path() + "/plexus_marker_target.so";
  std::filesystem::copy_file(testPlugin("test_marker"), outside);
  std::filesystem::create_symlink(outside, sub_ + "/plexus_marker_link.so");
  expectStartRefused({"plexus_marker_link.so"}, "symbolic link");
  EXPECT_FALSE(constructorRan());
}

TEST_F(AllowList, WorldWritablePluginDirNeverRuns) {
  freshCopy("plexus_marker_ww.so");
  ::chmod(sub_.c_str(), 0777);
  expectStartRefused({"plexus_marker_ww.so"}, "writable by group or others (mode 0777)");
  EXPECT_FALSE(constructorRan());
}

TEST_F(AllowList, SymlinkedPluginDirIsResolvedAndChecked) {
  // Documented policy: plugin_dir itself may be a symlink (e.g. /opt/plexus/current); the real
  // directory it names is the allow-list and gets the owner and mode checks.
  freshCopy("plexus_marker_viadir.so");
  const std::string link = dir_.path() + "/current";
  std::filesystem::create_directory_symlink(sub_, link);
  start({"plexus_marker_viadir.so"}, link);
  EXPECT_TRUE(constructorRan());
}

// plugin_dirs: several directories, searched in order, each one an allow-list entry with the same
// trust checks (issue 16 finding 6: a third party's directory beside the image's own).
class SeveralDirs : public AllowList {
 protected:
  void SetUp() override {
    AllowList::SetUp();
    second_ = dir_.path() + "/drop-in";
    std::filesystem::create_directory(second_);
    ::chmod(second_.c_str(), 0755);
  }
  std::string dropIn(const std::string& name) {
    const std::string p = second_ + "/" + name;
    std::filesystem::copy_file(testPlugin("test_marker"), p);
    ::chmod(p.c_str(), 0644);
    return p;
  }
  std::string dirs() const override {
    return R"("plugin_dirs": [")" + sub_ + R"(", ")" + second_ + R"("])";
  }
  std::string second_;
};

TEST_F(SeveralDirs, BareNameInTheSecondDirectoryLoads) {
  std::filesystem::copy_file(testPlugin("testkit"), sub_ + "/plexus_testkit.so");
  dropIn("plexus_marker_second.so");
  start({"plexus_testkit.so", "plexus_marker_second.so"});
  EXPECT_TRUE(constructorRan());
}

TEST_F(SeveralDirs, AbsolutePathInTheSecondDirectoryLoads) {
  start({dropIn("plexus_marker_abs2.so")});
  EXPECT_TRUE(constructorRan());
}

TEST_F(SeveralDirs, PathOutsideEveryDirectoryNeverRuns) {
  const std::string outside = dir_.path() + "/plexus_marker_out2.so";
  std::filesystem::copy_file(testPlugin("test_marker"), outside);
  expectStartRefused({outside}, "is outside the plugin directories");
  EXPECT_FALSE(constructorRan());
}

TEST_F(SeveralDirs, WorldWritableSecondDirectoryNeverRuns) {
  dropIn("plexus_marker_ww2.so");
  ::chmod(second_.c_str(), 0777);
  expectStartRefused({"plexus_marker_ww2.so"}, "writable by group or others (mode 0777)");
  EXPECT_FALSE(constructorRan());
}

TEST_F(SeveralDirs, WritableEarlierDirectoryIsRefusedEvenWhenUnused) {
  // The plugin sits in the second directory, but anyone could shadow it through the first one.
  dropIn("plexus_marker_shadow.so");
  ::chmod(sub_.c_str(), 0777);
  expectStartRefused({"plexus_marker_shadow.so"}, sub_ + ": the plugin directory is writable");
  EXPECT_FALSE(constructorRan());
}

TEST_F(SeveralDirs, GroupWritableFileInTheSecondDirectoryNeverRuns) {
  ::chmod(dropIn("plexus_marker_gw2.so").c_str(), 0664);
  expectStartRefused({"plexus_marker_gw2.so"}, "writable by group or others (mode 0664)");
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

// Defect 1 of issue 16: a second receptor for a command another plugin owns was accepted, and
// every POST /api/orders then answered 500 "no receptor for CreateOrder".
void expectSecondOwnerRefused(const std::string& thief, const std::string& thiefId) {
  plexus::Metrics metrics;
  plexus::plugin::Runtime rt(metrics);
  const std::string thiefPath = testPlugin(thief);
  try {
    rt.start(configWith(R"({"service": "t", "plugins": [{"library": ")" +
                        plexus::test::plugin("orders") + R"("}, {"library": ")" + thiefPath +
                        R"("}]})"));
    FAIL() << thief << " was accepted beside orders";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.path(), thiefPath);
    for (const std::string& part : {thiefId, std::string("orders/CreateOrder"),
                                    std::string("CreateOrder"), plexus::test::plugin("orders")}) {
      EXPECT_NE(e.reason().find(part), std::string::npos) << part << " not in: " << e.what();
    }
  }
}

TEST(RuntimeStart, ASecondReceptorOfACommandIsRefusedNamingBoth) {
  expectSecondOwnerRefused("test_thief_command", "thief_command/Thief");
}

TEST(RuntimeStart, AnUndeclaredListingOfADeclaredCommandIsRefused) {
  expectSecondOwnerRefused("test_thief_undeclared", "thief_undeclared/Thief");
}

TEST(RuntimeStart, ACommandCalledAnEventElsewhereIsRefused) {
  expectSecondOwnerRefused("test_thief_event", "thief_event/Thief");
}

TEST(RuntimeStart, SeveralReceptorsMayReactToOneEvent) {
  plexus::Metrics metrics;
  plexus::plugin::Runtime rt(metrics);
  rt.start(configWith(R"({"service": "t", "plugins": [{"library": ")" +
                      plexus::test::plugin("orders") + R"("}, {"library": ")" +
                      plexus::test::plugin("order_saga") + R"("}, {"library": ")" +
                      plexus::test::plugin("notifications") + R"("}, {"library": ")" +
                      testPlugin("test_listener") + R"("}]})"));
  ASSERT_NE(rt.receptorFor("CreateOrder"), nullptr);
  EXPECT_EQ(rt.receptorFor("CreateOrder")->id, "orders/CreateOrder");
  EXPECT_EQ(rt.receptorFor("OrderSagaTimeout")->id, "order_saga/OrderSaga");
  EXPECT_EQ(rt.receptorFor("OrderCreated"), nullptr);  // an event: no single owner
}

}  // namespace
