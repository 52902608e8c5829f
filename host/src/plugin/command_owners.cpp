#include "plugin/command_owners.hpp"

#include "observability/log.hpp"
#include "plugin/runtime.hpp"

namespace plexus::plugin {
namespace {

const char* kindName(plexus_message_kind k) {
  if (k == PLEXUS_MESSAGE_COMMAND) return "a command";
  if (k == PLEXUS_MESSAGE_EVENT) return "an event";
  return "undeclared (built before ABI 1.2, or plexus::command/plexus::event not used)";
}

}  // namespace

void CommandOwners::add(const std::string& path, Component& c,
                        const std::vector<std::string>& types,
                        const std::vector<plexus_message_kind>& kinds) {
  for (size_t i = 0; i < types.size(); ++i) {
    const std::string& type = types[i];
    const plexus_message_kind kind = i < kinds.size() ? kinds[i] : PLEXUS_MESSAGE_UNDECLARED;
    auto& listed = listings_[type];
    for (const Listing& other : listed) {
      const bool command = kind == PLEXUS_MESSAGE_COMMAND || other.kind == PLEXUS_MESSAGE_COMMAND;
      if (!command) continue;  // several listeners of one event are fine
      const std::string advice =
          "; a command has exactly one receptor in a host: load only one of them, or leave one "
          "out with the plugin's \"components\" list";
      const std::string reason =
          kind == other.kind
              ? "receptor " + c.id + " handles command " + type + ", already handled by " +
                    other.component->id + " (" + other.component->plugin->path + ")" + advice
              : "receptor " + c.id + " lists " + type + " as " + kindName(kind) + ", but " +
                    other.component->id + " (" + other.component->plugin->path + ") lists it as " +
                    kindName(other.kind) + advice;
      throw PluginError(path, reason);
    }
    if (!listed.empty() && kind == PLEXUS_MESSAGE_UNDECLARED &&
        listed.front().kind == PLEXUS_MESSAGE_UNDECLARED) {
      log::write(
          log::Level::Warn,
          "message type listed by several receptors that do not declare its kind: it "
          "cannot be sent or invoked in this host (declare plexus::command or "
          "plexus::event, ABI 1.2)",
          nlohmann::json{{"type", type}, {"receptors", {listed.front().component->id, c.id}}});
    }
    listed.push_back(Listing{&c, kind});
  }
}

Component* CommandOwners::owner(const std::string& type) const {
  auto it = listings_.find(type);
  if (it == listings_.end() || it->second.size() != 1) return nullptr;
  return it->second.front().component;
}

}  // namespace plexus::plugin
