#include "plugin/migrations.hpp"

namespace plexus::plugin {

std::vector<store::Migration> migrationsOf(
    const std::vector<std::shared_ptr<LoadedPlugin>>& plugins, const store::Dialect& dialect) {
  std::vector<store::Migration> out;
  for (const auto& p : plugins) {
    for (const auto& m : p->migrations) {
      const std::string d = m.dialect;
      if (d == dialect.name() || d == "any")
        out.push_back(store::Migration{p->name, m.version, m.name ? m.name : "", m.sql});
    }
  }
  return out;
}

}  // namespace plexus::plugin
