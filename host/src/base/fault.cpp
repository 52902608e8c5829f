#include "base/fault.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace plexus::fault {
namespace {

constexpr std::array<const char*, 4> kNames{"before_commit", "after_commit_before_ack",
                                            "after_publish_before_mark", "mid_relay"};

struct Plan {
  std::array<long, kNames.size()> at{};  // 0 = never
  std::array<std::atomic<long>, kNames.size()> seen{};
};

Plan& plan() {
  static Plan p;
  return p;
}

[[noreturn]] void refuse(const std::string& value, const std::string& why) {
  std::fprintf(stderr,
               "plexus-host: PLEXUS_FAULT=%s: %s (expected <point>:<n>[,...] with point one of "
               "before_commit, after_commit_before_ack, after_publish_before_mark, mid_relay)\n",
               value.c_str(), why.c_str());
  std::exit(2);
}

// Parsed once, before main: the variable is fixed for the life of the process.
bool parse() {
  const char* raw = std::getenv("PLEXUS_FAULT");
  if (raw == nullptr || *raw == '\0') return false;
  const std::string value(raw);
  size_t pos = 0;
  bool any = false;
  while (pos <= value.size()) {
    size_t end = value.find(',', pos);
    if (end == std::string::npos) end = value.size();
    const std::string item = value.substr(pos, end - pos);
    const size_t colon = item.find(':');
    if (colon == std::string::npos) refuse(value, "'" + item + "' has no ':<n>'");
    const std::string name = item.substr(0, colon), count = item.substr(colon + 1);
    size_t index = kNames.size();
    for (size_t i = 0; i < kNames.size(); ++i) {
      if (name == kNames[i]) index = i;
    }
    if (index == kNames.size()) refuse(value, "unknown point '" + name + "'");
    char* stop = nullptr;
    const long n = std::strtol(count.c_str(), &stop, 10);
    if (count.empty() || *stop != '\0' || n < 1) {
      refuse(value, "'" + count + "' is not a positive count");
    }
    plan().at[index] = n;
    any = true;
    pos = end + 1;
  }
  return any;
}

}  // namespace

namespace detail {
bool armed = parse();

void reachSlow(Point point) {
  const auto i = static_cast<size_t>(point);
  Plan& p = plan();
  if (p.at[i] == 0 || p.seen[i].fetch_add(1) + 1 != p.at[i]) return;
  // A raw write: no locks, no allocation; the suite reads it from the host's stdout.
  char line[160];
  const int n = std::snprintf(line, sizeof line,
                              "{\"level\":\"error\",\"msg\":\"fault injected\",\"point\":\"%s\","
                              "\"n\":%ld}\n",
                              kNames[i], p.at[i]);
  if (n > 0) {
    [[maybe_unused]] const ssize_t w = ::write(STDOUT_FILENO, line, static_cast<size_t>(n));
  }
  ::_exit(137);
}
}  // namespace detail

}  // namespace plexus::fault
