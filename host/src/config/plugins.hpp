#pragma once
// The `plugin_dir` and `plugins` sections: which libraries this host loads and how they are pinned.

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

// `/plugin_dir`: "." when absent (then `given` is false and any path may be listed).
std::string parsePluginDir(const Reader& r, const nlohmann::json& doc, bool& given);
// `/plugins`: each library resolved against `pluginDir` unless it holds a '/'.
std::vector<Plugin> parsePlugins(const Reader& r, const nlohmann::json& plugins,
                                 const std::string& pluginDir);

}  // namespace plexus::config
