#pragma once
// Host metrics of the dispatch parts are defined once at start; a clash is a programming error.

#include "observability/metrics.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::dispatch {

inline int64_t defineMetric(Metrics& m, Metrics::Kind kind, const std::string& name,
                            const std::string& help, const std::vector<std::string>& labels) {
  std::string error;
  const int64_t id = m.define(kind, name, help, labels, {}, error, true);
  if (id == 0) throw std::logic_error("host metric " + name + ": " + error);
  return id;
}

}  // namespace plexus::dispatch
