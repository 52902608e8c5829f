#pragma once
// The schema migrations the given plugins ship for a store's dialect ("any" fits every dialect),
// as `migrate`, a reload and a rebuild's shadow apply them.

#include "plugin/loader.hpp"
#include "store/migrations.hpp"

#include <memory>
#include <vector>

namespace plexus::plugin {

std::vector<store::Migration> migrationsOf(
    const std::vector<std::shared_ptr<LoadedPlugin>>& plugins, const store::Dialect& dialect);

}  // namespace plexus::plugin
