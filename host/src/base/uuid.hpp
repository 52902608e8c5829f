#pragma once
#include <string>

namespace plexus {
// A new UUIDv7 (RFC 9562) in canonical dashed lowercase form: time-ordered, so ids sort by
// creation.
std::string newUuidV7();
}  // namespace plexus
