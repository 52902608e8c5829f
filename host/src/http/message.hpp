#pragma once
// A complete HTTP/1.1 request as the front end hands it to a worker, and the response a worker
// hands back. Plain values: nothing here knows about sockets.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace plexus::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Which listener a request came in on.
enum class Port { Main, Management };

struct Request {
  std::string method;
  std::string target;   // origin-form: path plus optional "?query"
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  Headers headers;      // in arrival order, names as sent
  std::string body;     // de-chunked
  std::string peer;     // client IP address
  Port port = Port::Main;
  bool keepAlive = true;

  // The first field named `name` (case-insensitive), or `fallback`.
  const std::string& header(const std::string& name, const std::string& fallback = empty()) const;
  std::string path() const { return target.substr(0, target.find('?')); }
  std::string query() const;

 private:
  static const std::string& empty();
};

struct Response {
  int status = 200;
  Headers headers;  // Content-Length, Transfer-Encoding and Connection are the front end's
  std::string body;
  bool close = false;  // close the connection after this response
};

// "OK", "Not Found", ...; "Unknown" for codes without a phrase here.
const char* reasonPhrase(int status);

// Status line, the response's headers (framing fields and fields with CR, LF or NUL are left
// out), Content-Length, Connection, then the body (none for HEAD requests, 1xx, 204 and 304).
std::string serialize(const Response& response, bool headRequest, bool keepAlive, bool http10);

// A JSON error response {"error": message}.
Response errorResponse(int status, const std::string& message);

// Case-insensitive ASCII equality.
bool iequals(const std::string& a, const std::string& b);

}  // namespace plexus::http
