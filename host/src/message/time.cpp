#include "message/message.hpp"

#include <cstdio>
#include <ctime>

namespace plexus {

std::string rfc3339(int64_t unixMs) {
  // Floor division: -1 ms is 23:59:59.999 of the day before, not 00:00:00.-01.
  const int64_t seconds = unixMs >= 0 ? unixMs / 1000 : -((-unixMs + 999) / 1000);
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(((unixMs % 1000) + 1000) % 1000));
  return buf;
}

}  // namespace plexus
