#include "observability/log.hpp"

#include "observability/trace.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

namespace plexus::log {
namespace {

std::mutex& mutex() {
  static std::mutex m;
  return m;
}
std::string& service() {
  static std::string s = "plexus-host";
  return s;
}
std::atomic<int> threshold{static_cast<int>(Level::Info)};

const char* name(Level l) {
  switch (l) {
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Warn:
      return "warn";
    case Level::Error:
      return "error";
  }
  return "info";
}

std::string timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

void setService(std::string s) {
  std::lock_guard<std::mutex> lock(mutex());
  service() = std::move(s);
}

void setLevel(Level level) { threshold = static_cast<int>(level); }

bool parseLevel(std::string_view text, Level& out) {
  if (text == "debug") {
    out = Level::Debug;
  } else if (text == "info") {
    out = Level::Info;
  } else if (text == "warn") {
    out = Level::Warn;
  } else if (text == "error") {
    out = Level::Error;
  } else {
    return false;
  }
  return true;
}

bool enabled(Level level) {
  return static_cast<int>(level) >= threshold.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view message, const nlohmann::json* fields) {
  if (!enabled(level)) return;
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = timestamp();
  line["level"] = name(level);
  {
    std::lock_guard<std::mutex> lock(mutex());
    line["service"] = service();
  }
  line["msg"] = std::string(message);
  // The span running on this thread, so a log line can be found from its trace and back.
  const trace::SpanContext& span = trace::current();
  if (span.valid()) {
    line["trace_id"] = span.traceIdHex();
    line["span_id"] = span.spanIdHex();
  }
  if (fields != nullptr && fields->is_object()) {
    for (auto it = fields->begin(); it != fields->end(); ++it) line[it.key()] = it.value();
  }
  // Replace invalid UTF-8 instead of throwing: a log line must never fail.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  std::lock_guard<std::mutex> lock(mutex());
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void write(Level level, std::string_view message, const nlohmann::json& fields) {
  write(level, message, &fields);
}

}  // namespace plexus::log
