#pragma once
// JSON log lines on stdout: one object per line, written whole under a lock so lines from
// concurrent threads never interleave.

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>

namespace plexus::log {

enum class Level { Debug = 1, Info = 2, Warn = 3, Error = 4 };

void setService(std::string service);
void setLevel(Level level);
// Accepts "debug", "info", "warn", "error"; returns false for anything else.
bool parseLevel(std::string_view text, Level& out);
bool enabled(Level level);

// `fields` (an object, may be null) is merged into the line: plugin, request_id, message_id, ...
void write(Level level, std::string_view message, const nlohmann::json* fields = nullptr);
void write(Level level, std::string_view message, const nlohmann::json& fields);

inline void debug(std::string_view m) { write(Level::Debug, m); }
inline void info(std::string_view m) { write(Level::Info, m); }
inline void warn(std::string_view m) { write(Level::Warn, m); }
inline void error(std::string_view m) { write(Level::Error, m); }

}  // namespace plexus::log
