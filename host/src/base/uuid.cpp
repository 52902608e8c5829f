#include "base/uuid.hpp"

#include <plexus/sdk/uuid.hpp>

namespace plexus {

// The SDK's generator: plugins and host make ids the same way.
std::string newUuidV7() { return uuid::v7(); }

}  // namespace plexus
