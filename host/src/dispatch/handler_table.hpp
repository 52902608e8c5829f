#pragma once
// Which loaded component handles which message: every receptor and perspective that lists an
// event type gets it; a command goes to its one owning receptor.

#include "plugin/runtime.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace plexus::dispatch {

class HandlerTable {
 public:
  explicit HandlerTable(const plugin::Runtime& runtime);

  // Handler ids ("plugin/component") for a message of `kind` ("event" | "command") and `type`.
  const std::vector<std::string>& handlersFor(const std::string& kind,
                                              const std::string& type) const;
  // Null when no component of that id is loaded.
  plugin::Component* component(const std::string& handler) const;

  // What the deployment's broker queues must be bound to: every type a receptor or perspective
  // lists may arrive as an event; every receptor type may arrive as a command.
  std::set<std::string> eventTypes() const;
  std::set<std::string> commandTypes() const;

 private:
  std::map<std::string, std::vector<std::string>> events_;    // type -> handler ids
  std::map<std::string, std::vector<std::string>> commands_;  // type -> its owner (one)
  std::map<std::string, plugin::Component*> components_;      // handler id -> component
};

}  // namespace plexus::dispatch
