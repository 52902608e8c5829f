#pragma once
// The `plugin_dir` / `plugin_dirs` and `plugins` sections: which libraries this host loads, from
// which directories, and how they are pinned.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace plexus::config {

class Reader;

struct Plugin {
  std::string library;                  // as written in the config
  std::string path;                     // resolved path
  std::optional<std::string> sha256;    // lowercase hex pin
  std::vector<std::string> components;  // empty = every component of the plugin
  nlohmann::json config = nlohmann::json::object();
  size_t index = 0;  // position in /plugins, for error paths
};

// `/plugin_dir` (one directory) or `/plugin_dirs` (several, searched in order), never both.
// {"."} when neither is given (then `given` is false and any path may be listed).
std::vector<std::string> parsePluginDirs(const Reader& r, const nlohmann::json& doc, bool& given);
// `/plugins`: a library without '/' is looked up in `pluginDirs` in order (the first directory
// holding an entry of that name wins; with one directory no lookup is needed); a library with '/'
// is a path.
std::vector<Plugin> parsePlugins(const Reader& r, const nlohmann::json& plugins,
                                 const std::vector<std::string>& pluginDirs);

}  // namespace plexus::config
