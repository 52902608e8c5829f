#include "app/rebuild_command.hpp"

#include "app/host.hpp"
#include "base/clock.hpp"
#include "observability/metrics.hpp"
#include "plugin/loader.hpp"
#include "rebuild/rebuild.hpp"
#include "store/migrations.hpp"

#include <Poco/Environment.h>
#include <Poco/Process.h>

#include <iostream>

namespace plexus::app {

int rebuildCommand(const config::Config& config, const std::string& component,
                   const std::vector<std::string>& tables) {
  if (config.store.kind.empty()) {
    std::cerr << "plexus-host: rebuild: " << config.file << " has no \"store\"\n";
    return kExitConfig;
  }
  // The plugins' descriptors only: nothing but the rebuilt perspective is created.
  std::vector<std::shared_ptr<plugin::LoadedPlugin>> plugins;
  try {
    for (const auto& pc : config.plugins) {
      plugins.push_back(
          plugin::load(pc.path, pc.sha256,
                       config.pluginDirGiven ? config.pluginDirs : std::vector<std::string>{}));
    }
  } catch (const plugin::PluginError& e) {
    std::cerr << "plexus-host: rebuild: " << e.what() << "\n";
    return kExitConfig;
  }
  rebuild::Target target;
  try {
    target = rebuild::findTarget(config, plugins, component);
  } catch (const rebuild::RebuildError& e) {
    std::cerr << "plexus-host: rebuild: " << e.what() << "\n";
    return kExitUsage;
  }
  target.tables = tables;
  std::unique_ptr<store::Store> live;
  try {
    live = store::Store::open(config.store, 4);
    if (!store::pendingMigrations(*live, {}).empty()) {
      std::cerr << "plexus-host: rebuild: the store is not migrated; run plexus-host migrate "
                   "--config "
                << config.file << " first\n";
      return kExitUnavailable;
    }
  } catch (const std::exception& e) {
    std::cerr << "plexus-host: rebuild: cannot open the store: " << e.what() << "\n";
    return kExitUnavailable;
  }
  Metrics metrics;
  const std::string owner = "rebuild-command@" + Poco::Environment::nodeName() + "-" +
                            std::to_string(Poco::Process::id());
  try {
    rebuild::Rebuild r(config, *live, metrics, systemClock(), std::move(target), owner, false);
    r.begin();
    const rebuild::Record done = r.run();
    std::cout << "plexus-host: rebuild " << done.id << ": " << done.component << " switched to the "
              << "rebuilt read model (" << done.events << " events applied, " << done.duplicates
              << " duplicates, " << done.rejected << " rejected; tables";
    for (const auto& t : done.tables) std::cout << " " << t;
    std::cout << "); the replaced copy is dropped after " << config.rebuild.gracePeriodSeconds
              << " s by the deployment's hosts\n";
    return EXIT_SUCCESS;
  } catch (const rebuild::RebuildError& e) {
    std::cerr << "plexus-host: rebuild: " << e.what() << "\n";
    return EXIT_FAILURE;
  } catch (const store::SqlError& e) {
    std::cerr << "plexus-host: rebuild: store unavailable: " << e.what() << "\n";
    return kExitUnavailable;
  }
}

}  // namespace plexus::app
