#include "config/live_ops.hpp"

#include "config/reader.hpp"

#include <nlohmann/json.hpp>

namespace plexus::config {

Reload parseReload(const Reader& r, const nlohmann::json& v) {
  r.expectObject(v, "/reload", {"drain_timeout_seconds"}, {});
  Reload out;
  r.optionalInt(v, "/reload", "drain_timeout_seconds", out.drainTimeoutSeconds, 0, 3600);
  return out;
}

Rebuild parseRebuild(const Reader& r, const nlohmann::json& v) {
  const std::string base = "/rebuild";
  r.expectObject(
      v, base,
      {"grace_period_seconds", "batch", "sources", "answer_timeout_seconds", "reply_window"}, {});
  Rebuild out;
  r.optionalInt(v, base, "grace_period_seconds", out.gracePeriodSeconds, 0, 30 * 24 * 3600);
  r.optionalInt(v, base, "batch", out.batch, 1, 10000);
  r.optionalInt(v, base, "answer_timeout_seconds", out.answerTimeoutSeconds, 1, 3600);
  r.optionalInt(v, base, "reply_window", out.replyWindow, 10, 1000000);
  if (v.contains("sources")) {
    out.sources = r.strings(v["sources"], base + "/sources");
    for (size_t i = 0; i < out.sources.size(); ++i) {
      if (out.sources[i].empty())
        r.fail(base + "/sources/" + std::to_string(i), "must name a deployment (its service)");
    }
  }
  return out;
}

}  // namespace plexus::config
