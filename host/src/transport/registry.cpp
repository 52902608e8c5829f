#include "transport/registry.hpp"

#include "transport/rabbitmq.hpp"

#include <map>
#include <mutex>
#include <stdexcept>

namespace plexus::transport {
namespace {

std::mutex mu;
std::map<std::string, Factory>& factories() {
  static std::map<std::string, Factory> all;
  return all;
}

}  // namespace

void registerTransport(const std::string& kind, Factory factory) {
  std::lock_guard<std::mutex> lock(mu);
  factories()[kind] = std::move(factory);
}

void registerBuiltinTransports() { registerTransport("rabbitmq", &createRabbitTransport); }

std::unique_ptr<Transport> create(const config::Config& config, Bindings bindings) {
  const std::string& kind = config.transport.kind;
  if (kind.empty() || kind == "inproc") return nullptr;
  Factory factory;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = factories().find(kind);
    if (it == factories().end())
      throw std::invalid_argument("no transport of kind \"" + kind + "\" is built into this host");
    factory = it->second;
  }
  return factory(config, std::move(bindings));
}

}  // namespace plexus::transport
