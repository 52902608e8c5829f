#pragma once
// Loads one plugin file: trust checks before dlopen, ABI and descriptor checks after, never
// unloaded. Every refusal is a PluginError naming the path and the reason.

#include <plexus/abi/plugin_abi.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::plugin {

class PluginError : public std::runtime_error {
 public:
  PluginError(const std::string& path, const std::string& reason)
      : std::runtime_error("plugin " + path + ": " + reason), path_(path), reason_(reason) {}
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_;
  std::string reason_;
};

// A validated plugin. Component descriptors are copied into host-sized structs (zero-extended when
// the plugin's are smaller), so the host never reads past what the plugin wrote.
struct LoadedPlugin {
  std::string path;
  std::string name;
  std::string version;
  std::string sha256;  // of the bytes that were loaded (the private copy)
  uint16_t abiMajor = 0;
  uint16_t abiMinor = 0;
  std::vector<plexus_receptor_desc> receptors;
  std::vector<plexus_perspective_desc> perspectives;
  std::vector<plexus_route_desc> routes;
  std::vector<plexus_migration_desc> migrations;
  std::vector<std::vector<std::string>> receptorTypes;          // parallel to receptors
  std::vector<std::vector<plexus_message_kind>> receptorKinds;  // parallel to receptorTypes
  std::vector<std::vector<std::string>> perspectiveTypes;       // parallel to perspectives
};

// Lowercase hex SHA-256 of a file's content.
std::string sha256Hex(const std::string& path);

// Checks that run before any code of the file runs (docs/security.md, "Plugin trust"):
// - with `pluginDirs` (the config's plugin_dir or plugin_dirs, the allow-list), the file must sit
//   directly in one of those directories: no subdirectory, no `..`, no absolute path elsewhere;
// - the file itself must not be a symbolic link (refused even when one is swapped in after the
//   check: the file is opened with O_NOFOLLOW relative to the already opened directory);
// - a regular file, owned by the host's user or root, not writable by group or others; the same
//   owner and mode rules for the directory holding it;
// - the SHA-256 pin, when given, over the opened descriptor.
// Returns an open descriptor of the checked file, so the file that is loaded is the file that was
// checked (no swap between check and load).
int openTrusted(const std::string& path, const std::optional<std::string>& sha256,
                const std::vector<std::string>& pluginDirs = {});

// Every listed plugin directory gets the directory checks above, whether or not a plugin is found
// in it: with a lookup in order, an earlier directory that others can write to could shadow a
// later one. Throws PluginError naming the directory.
void checkPluginDirs(const std::vector<std::string>& pluginDirs);

// Validates what a plugin's entry point returned (ABI version, names, component tables) and
// copies it into host-sized structs. Throws PluginError naming `path`. Reads only what the
// descriptor's struct_size and counts cover, so any descriptor a plugin can build is safe to pass.
std::shared_ptr<LoadedPlugin> validateDescriptor(const std::string& path,
                                                 const plexus_plugin_desc* raw);

// Loads and validates. Throws PluginError.
std::shared_ptr<LoadedPlugin> load(const std::string& path,
                                   const std::optional<std::string>& sha256,
                                   const std::vector<std::string>& pluginDirs = {});

// Test seam: called with the path after the trust checks passed and before dlopen, so a test can
// swap the file at that moment. Empty by default; not thread-safe (set it before loading).
void setBeforeDlopenHookForTesting(std::function<void(const std::string& path)> hook);

}  // namespace plexus::plugin
