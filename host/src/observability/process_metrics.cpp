#include "observability/process_metrics.hpp"

#include "observability/metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace plexus::process {
namespace {

std::string readFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

double countOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor of the listing itself
}

prometheus::MetricFamily family(const std::string& name, const std::string& help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(m);
  return f;
}

// Read at scrape time, so the numbers are current and nothing polls in the background.
class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    const auto s = readSelf();
    if (!s) return {};
    using T = prometheus::MetricType;
    return {
        family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
               T::Counter, s->cpuSeconds),
        family("process_resident_memory_bytes", "Resident memory size in bytes.", T::Gauge,
               s->residentBytes),
        family("process_virtual_memory_bytes", "Virtual memory size in bytes.", T::Gauge,
               s->virtualBytes),
        family("process_open_fds", "Number of open file descriptors.", T::Gauge, s->openFds),
        family("process_max_fds", "Maximum number of open file descriptors.", T::Gauge, s->maxFds),
        family("process_threads", "Number of OS threads in the process.", T::Gauge, s->threads),
        family("process_start_time_seconds",
               "Start time of the process since unix epoch in seconds.", T::Gauge,
               s->startTimeSeconds),
    };
  }
};

}  // namespace

std::optional<Sample> parseStat(const std::string& stat, long ticksPerSecond, long pageSize,
                                double bootTimeSeconds) {
  // The command name is in parentheses and may itself contain spaces or ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || ticksPerSecond <= 0 || pageSize <= 0) return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state) of proc(5)
  for (std::string t; in >> t;) f.push_back(t);
  if (f.size() < 22) return std::nullopt;
  try {
    Sample s;
    const double ticks = static_cast<double>(ticksPerSecond);
    s.cpuSeconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;  // utime + stime
    s.threads = std::stod(f[17]);
    s.startTimeSeconds = bootTimeSeconds + std::stod(f[19]) / ticks;
    s.virtualBytes = std::stod(f[20]);
    s.residentBytes = std::stod(f[21]) * static_cast<double>(pageSize);
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<double> parseBootTime(const std::string& procStat) {
  std::istringstream in(procStat);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) {
      try {
        return std::stod(line.substr(6));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

std::optional<Sample> readSelf() {
  static const std::optional<double> boot = parseBootTime(readFile("/proc/stat"));
  auto s = parseStat(readFile("/proc/self/stat"), sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE),
                     boot.value_or(0));
  if (!s) return std::nullopt;
  s->openFds = countOpenFds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) s->maxFds = static_cast<double>(limit.rlim_cur);
  return s;
}

void registerMetrics(Metrics& metrics, const std::string& version, const std::string& abiVersion,
                     const std::vector<std::pair<std::string, std::string>>& plugins) {
  metrics.addCollectable(std::make_shared<ProcessCollector>());
  std::string error;
  const int64_t build = metrics.define(
      Metrics::Kind::Gauge, "plexus_build_info",
      "Always 1; the labels name the host version and the plugin ABI version it speaks.",
      {"version", "abi_version"}, {}, error, true);
  if (build > 0) metrics.update(build, {version, abiVersion}, 1);
  for (const auto& [name, v] : plugins) setPluginVersion(metrics, name, v, true);
}

void setPluginVersion(Metrics& metrics, const std::string& plugin, const std::string& version,
                      bool serving) {
  std::string error;
  const int64_t id = metrics.define(
      Metrics::Kind::Gauge, "plexus_plugin_info",
      "1 for the serving version of each loaded plugin; 0 for a version a reload replaced.",
      {"plugin", "version"}, {}, error, true);
  if (id > 0) metrics.update(id, {plugin, version}, serving ? 1 : 0);
}

}  // namespace plexus::process
