#pragma once
// Which receptor runs each command type in this host. DESIGN.md §2: a command has exactly one
// receptor in a host, so a plugin that lists a command another plugin owns is refused at load
// (naming both), not left to answer "no receptor for X" at the first request.

#include <plexus/abi/plugin_abi.h>

#include <map>
#include <string>
#include <vector>

namespace plexus::plugin {

struct Component;

class CommandOwners {
 public:
  // Records that receptor `c` (loaded from `path`) lists `types` with `kinds` (parallel). Throws
  // PluginError naming `path`, both plugins and both components when a type becomes a command
  // with two receptors, or a command to one receptor and an event to another.
  void add(const std::string& path, Component& c, const std::vector<std::string>& types,
           const std::vector<plexus_message_kind>& kinds);

  // The receptor that runs `type` when it is sent or invoked: the only one that lists it; null
  // when none or several do (several can only be event listeners, or plugins built before ABI
  // 1.2 that do not say).
  Component* owner(const std::string& type) const;

 private:
  struct Listing {
    Component* component;
    plexus_message_kind kind;
  };
  std::map<std::string, std::vector<Listing>> listings_;
};

}  // namespace plexus::plugin
