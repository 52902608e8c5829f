#include "transport/endpoints.hpp"

#include <stdexcept>

namespace plexus::transport {

std::string nodeOf(const std::string& url) {
  const size_t scheme = url.find("://");
  const bool tls = url.rfind("amqps://", 0) == 0;
  std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  const size_t at = rest.rfind('@');
  if (at != std::string::npos) rest = rest.substr(at + 1);
  const size_t bracket = rest.rfind(']');  // [::1]:5672
  const size_t colon = rest.rfind(':');
  const bool hasPort =
      colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  if (!hasPort) rest += tls ? ":5671" : ":5672";
  return rest;
}

Endpoints::Endpoints(std::vector<std::string> urls, size_t start) : urls_(std::move(urls)) {
  if (urls_.empty()) throw std::invalid_argument("no broker URL");
  for (const auto& u : urls_) nodes_.push_back(nodeOf(u));
  current_ = start % urls_.size();
}

std::vector<size_t> Endpoints::order() const {
  std::vector<size_t> out;
  out.reserve(urls_.size());
  for (size_t k = 0; k < urls_.size(); ++k) out.push_back((current_ + k) % urls_.size());
  return out;
}

void Endpoints::failed(size_t i) {
  if (i == current_) current_ = (i + 1) % urls_.size();
}

}  // namespace plexus::transport
