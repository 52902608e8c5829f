#pragma once
// The message envelope (DESIGN.md §3): JSON, versioned, read tolerantly (unknown fields ignored,
// missing optional fields defaulted) because old and new hosts run side by side.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace plexus::store {

struct Envelope {
  static constexpr int kVersion = 1;
  std::string id;    // UUIDv7
  std::string kind;  // "event" | "command"
  std::string type;
  std::string stream;
  std::string correlation;
  std::string causation;
  int64_t timestampMs = 0;
  std::string sourceService;
  std::string sourceInstance;
  std::string traceparent;
  uint32_t attempt = 1;
  std::string payload;  // JSON text
};

std::string encode(const Envelope& e);
// Returns nullopt (and sets `error`) for input that is not a usable envelope.
std::optional<Envelope> decode(const std::string& text, std::string& error);

// RFC 3339 UTC with milliseconds.
std::string rfc3339(int64_t unixMs);

}  // namespace plexus::store
