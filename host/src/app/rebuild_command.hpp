#pragma once
// `plexus-host rebuild --config F --component PLUGIN/PERSPECTIVE [--tables a,b]`: rebuilds a
// perspective's read model from history beside the one that serves, then switches to it
// (rebuild/rebuild.hpp), in the foreground; a Job in Kubernetes. The deployment's hosts keep
// serving throughout and drop the retired copy after the grace period.

#include "config/config.hpp"

#include <string>
#include <vector>

namespace plexus::app {

// Exit code: 0 switched; 1 the rebuild failed (the old model serves on); 69 store unavailable;
// 78 bad config or plugin.
int rebuildCommand(const config::Config& config, const std::string& component,
                   const std::vector<std::string>& tables);

}  // namespace plexus::app
