#pragma once
// Loads one plugin file: trust checks before dlopen, ABI and descriptor checks after, never
// unloaded. Every refusal is a PluginError naming the path and the reason.

#include <plexus/abi/plugin_abi.h>

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
  uint16_t abiMajor = 0;
  uint16_t abiMinor = 0;
  std::vector<plexus_receptor_desc> receptors;
  std::vector<plexus_perspective_desc> perspectives;
  std::vector<plexus_route_desc> routes;
  std::vector<plexus_migration_desc> migrations;
  std::vector<std::vector<std::string>> receptorTypes;     // parallel to receptors
  std::vector<std::vector<std::string>> perspectiveTypes;  // parallel to perspectives
};

// Lowercase hex SHA-256 of a file's content.
std::string sha256Hex(const std::string& path);

// Checks that may run before any code of the file runs: regular file (symlinks refused), owned by
// the host's user or root, not writable by group or others, same for its directory; SHA-256 pin.
// Returns an open descriptor of the checked file, so the file that is loaded is the file that was
// checked (no swap between check and load).
int openTrusted(const std::string& path, const std::optional<std::string>& sha256);

// Loads and validates. Throws PluginError.
std::shared_ptr<LoadedPlugin> load(const std::string& path,
                                   const std::optional<std::string>& sha256);

}  // namespace plexus::plugin
