#pragma once
// The standard Prometheus process metrics (the names client libraries use:
// process_cpu_seconds_total, process_resident_memory_bytes, ...), read from /proc on every scrape,
// and the host's info gauges: plexus_build_info{version,abi_version} and
// plexus_plugin_info{plugin,version}.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace plexus {
class Metrics;
}

namespace plexus::process {

struct Sample {
  double cpuSeconds = 0;  // user + system
  double residentBytes = 0;
  double virtualBytes = 0;
  double openFds = 0;
  double maxFds = 0;
  double threads = 0;
  double startTimeSeconds = 0;  // Unix time
};

// Parses the text of /proc/<pid>/stat. `ticksPerSecond` and `pageSize` come from sysconf,
// `bootTimeSeconds` from the btime line of /proc/stat. Nullopt for malformed text.
std::optional<Sample> parseStat(const std::string& stat, long ticksPerSecond, long pageSize,
                                double bootTimeSeconds);
// The btime line of /proc/stat; nullopt when missing.
std::optional<double> parseBootTime(const std::string& procStat);

// Reads the calling process's numbers now.
std::optional<Sample> readSelf();

// Registers the process families (collected at each scrape) and the info gauges.
void registerMetrics(Metrics& metrics, const std::string& version, const std::string& abiVersion,
                     const std::vector<std::pair<std::string, std::string>>& plugins);
// plexus_plugin_info{plugin, version}: 1 while that version serves, 0 once a reload replaced it.
void setPluginVersion(Metrics& metrics, const std::string& plugin, const std::string& version,
                      bool serving);

}  // namespace plexus::process
