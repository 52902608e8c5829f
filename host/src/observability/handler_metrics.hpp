#pragma once
// The host's per-handler message metrics, defined once per registry and shared by dispatch (a
// handler run for a consumed or stored message) and the plugin runtime (an inline projection), so
// both count in the same families.

#include "observability/metrics.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace plexus {

struct HandlerMetrics {
  int64_t handled = 0;     // plexus_messages_handled_total{type, handler, version}
  int64_t failed = 0;      // plexus_messages_failed_total{type, handler, version}
  int64_t duplicates = 0;  // plexus_inbox_duplicates_total{handler}
  int64_t duration = 0;    // plexus_handler_duration_seconds{handler}

  // Defines the families, or finds them when they exist (a clash is a programming error).
  static HandlerMetrics define(Metrics& m) {
    using K = Metrics::Kind;
    auto one = [&m](K kind, const std::string& name, const std::string& help,
                    const std::vector<std::string>& labels) {
      std::string error;
      const int64_t id = m.define(kind, name, help, labels, {}, error, true);
      if (id == 0) throw std::logic_error("host metric " + name + ": " + error);
      return id;
    };
    // `version`: the plugin version that ran the handler (two during a live upgrade).
    const std::vector<std::string> byHandler{"type", "handler", "version"};
    HandlerMetrics out;
    out.handled = one(K::Counter, "plexus_messages_handled_total", "Messages handled successfully.",
                      byHandler);
    out.failed =
        one(K::Counter, "plexus_messages_failed_total", "Handler attempts that failed.", byHandler);
    out.duplicates = one(K::Counter, "plexus_inbox_duplicates_total",
                         "Redelivered messages skipped by the inbox.", {"handler"});
    out.duration = one(K::Histogram, "plexus_handler_duration_seconds",
                       "Handler time per message, transaction included.", {"handler"});
    return out;
  }
};

}  // namespace plexus
