#include "dispatch/handler_table.hpp"

namespace plexus::dispatch {

HandlerTable::HandlerTable(const plugin::Runtime& runtime) {
  for (const auto& c : runtime.components()) {
    if (c->kind == plugin::Kind::Route) continue;
    components_[c->id] = c;
    for (const auto& t : c->types) {
      // The kind of a message is decided by how it was sent; a receptor's types may be commands
      // it owns or events it reacts to.
      if (c->kind == plugin::Kind::Receptor) {
        const plugin::Component* owner = runtime.receptorFor(t);
        if (owner != nullptr) commands_[t] = {owner->id};  // none when several receptors list it
      }
      events_[t].push_back(c->id);
    }
  }
}

const std::vector<std::string>& HandlerTable::handlersFor(const std::string& kind,
                                                          const std::string& type) const {
  static const std::vector<std::string> kNone;
  const auto& table = kind == "command" ? commands_ : events_;
  auto it = table.find(type);
  return it == table.end() ? kNone : it->second;
}

plugin::Component* HandlerTable::component(const std::string& handler) const {
  auto it = components_.find(handler);
  return it == components_.end() ? nullptr : it->second;
}

std::set<std::string> HandlerTable::eventTypes() const {
  std::set<std::string> out;
  for (const auto& [type, handlers] : events_) out.insert(type);
  return out;
}

std::set<std::string> HandlerTable::commandTypes() const {
  std::set<std::string> out;
  for (const auto& [id, c] : components_) {
    if (c->kind == plugin::Kind::Receptor) out.insert(c->types.begin(), c->types.end());
  }
  return out;
}

}  // namespace plexus::dispatch
