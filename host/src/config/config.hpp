#pragma once
// The host configuration: one JSON file per deployment (DESIGN.md §3), snake_case keys,
// ${VAR} / ${VAR:-default} expanded inside string values, unknown keys refused. Each section is
// parsed next to the struct it fills (http.hpp, store.hpp, transport.hpp,
// plugins.hpp, console.hpp).

#include "config/console.hpp"
#include "config/error.hpp"
#include "config/http.hpp"
#include "config/live_ops.hpp"
#include "config/plugins.hpp"
#include "config/reader.hpp"
#include "config/store.hpp"
#include "config/transport.hpp"

#include <string>
#include <vector>

namespace plexus::config {

struct Config {
  std::string file;
  std::string service;
  Http http;
  Store store;
  Transport transport;
  std::vector<std::string> pluginDirs;  // plugin_dir or plugin_dirs, in lookup order
  bool pluginDirGiven =
      false;  // one of them is in the file: the only directories plugins load from
  std::vector<Plugin> plugins;
  std::string logLevel = "info";
  Console console;
  Reload reload;
  Rebuild rebuild;
};

// Parses and validates. `file` is used in messages and to resolve nothing (relative paths resolve
// against the working directory, DESIGN.md §3).
Config parse(const std::string& text, const std::string& file, const Env& env = processEnv());
Config load(const std::string& file, const Env& env = processEnv());

}  // namespace plexus::config
