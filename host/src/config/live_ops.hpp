#pragma once
// The `reload` and `rebuild` sections: live operations on a running host (docs/operations.md).
//   "reload":  {"drain_timeout_seconds": 30}
//   "rebuild": {"grace_period_seconds": 600, "batch": 500, "sources": ["order-service", ...],
//               "answer_timeout_seconds": 60, "reply_window": 2000}

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace plexus::config {

class Reader;

struct Reload {
  int drainTimeoutSeconds = 30;  // calls on a replaced version may run this long
};

struct Rebuild {
  int gracePeriodSeconds = 600;  // the replaced read model is kept this long, then dropped
  int batch = 500;               // events applied per shadow transaction
  // Deployments whose event stores a rebuild replays through the broker; empty = the ones that
  // answer within the answer timeout (docs/architecture.md, "Rebuilding across deployments").
  std::vector<std::string> sources;
  int answerTimeoutSeconds = 60;  // a source silent this long fails the rebuild
  int replyWindow = 2000;         // replayed events waiting in the broker at most (back-pressure)
};

Reload parseReload(const Reader& r, const nlohmann::json& v);
Rebuild parseRebuild(const Reader& r, const nlohmann::json& v);

}  // namespace plexus::config
