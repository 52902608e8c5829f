#pragma once
// Transports by config kind (transport.kind) -> factory -> Transport. "inproc" has no factory: no
// broker. A new transport registers its factory (registerTransport) before the host starts; the
// built-in ones are registered by registerBuiltinTransports().

#include "config/config.hpp"
#include "transport_api/transport.hpp"

#include <functional>
#include <memory>
#include <string>

namespace plexus::transport {

using Factory =
    std::function<std::unique_ptr<Transport>(const config::Config& config, Bindings bindings)>;

void registerTransport(const std::string& kind, Factory factory);
void registerBuiltinTransports();
// Null for "inproc" (and for a host without a store); throws std::invalid_argument for a kind
// nothing registered.
std::unique_ptr<Transport> create(const config::Config& config, Bindings bindings);

}  // namespace plexus::transport
