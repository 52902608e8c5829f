#pragma once
// Matches request paths against route templates ("/api/orders/{id}"). Literal segments win over
// parameters, so "/api/orders/summary" beats "/api/orders/{id}".

#include <string>
#include <utility>
#include <vector>

namespace plexus::http {

class Router {
 public:
  struct Match {
    enum class Kind { Found, NotFound, MethodNotAllowed } kind = Kind::NotFound;
    size_t route = 0;                                         // index passed to add()
    std::vector<std::pair<std::string, std::string>> params;  // decoded
    std::vector<std::string> allowed;                         // for MethodNotAllowed
  };

  // Returns false (and sets `error`) for an invalid template.
  bool add(const std::string& method, const std::string& pathTemplate, size_t route,
           std::string& error);
  Match match(const std::string& method, const std::string& path) const;

  // Splits on '/', percent-decodes each segment; false for malformed escapes.
  static bool split(const std::string& path, std::vector<std::string>& segments);

 private:
  struct Entry {
    std::string method;
    std::vector<std::string> segments;  // "{name}" for parameters
    size_t literals = 0;
    size_t route = 0;
  };
  std::vector<Entry> entries_;
};

}  // namespace plexus::http
