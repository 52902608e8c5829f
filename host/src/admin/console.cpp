#include "admin/console.hpp"

#include "admin/response.hpp"

namespace plexus::admin {

const char* const kConsoleCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

namespace {

std::string header(const plugin::HttpRequest& req, const char* name) {
  for (const auto& [k, v] : req.headers) {
    std::string lower = k;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == name) return v;
  }
  return "";
}

void securityHeaders(plugin::HttpResponse& out) {
  out.headers.emplace_back("Content-Security-Policy", kConsoleCsp);
  out.headers.emplace_back("X-Content-Type-Options", "nosniff");
  out.headers.emplace_back("Referrer-Policy", "no-referrer");
  out.headers.emplace_back("X-Frame-Options", "DENY");
}

}  // namespace

plugin::HttpResponse serveConsole(const plugin::HttpRequest& req,
                                  const std::vector<std::string>& segs, std::string& routeLabel) {
  routeLabel = "/admin/console";
  if (req.method != "GET" && req.method != "HEAD") return methodNotAllowed("GET, HEAD");
  // Relative asset URLs need the trailing slash.
  if (segs.size() == 2 && (req.path.empty() || req.path.back() != '/')) {
    plugin::HttpResponse out;
    out.status = 301;
    out.contentType = "text/plain; charset=utf-8";
    out.body = "see /admin/console/\n";
    out.headers.emplace_back("Location", "/admin/console/");
    return out;
  }
  const std::string name = segs.size() == 2 ? "index.html" : segs[2];
  if (segs.size() > 3) return jsonError(404, "no such console file");
  for (const auto& a : consoleAssets()) {
    if (name != a.name) continue;
    plugin::HttpResponse out;
    out.headers.emplace_back("ETag", a.etag);
    // Revalidated on every load (cheap: 304), so a new host version's console is never stale.
    out.headers.emplace_back("Cache-Control", "no-cache");
    securityHeaders(out);
    const std::string inm = header(req, "if-none-match");
    if (!inm.empty() && (inm.find(a.etag) != std::string::npos || inm == "*")) {
      out.status = 304;
      return out;
    }
    out.status = 200;
    out.contentType = a.contentType;
    out.body.assign(a.bytes.data(), a.bytes.size());
    return out;
  }
  return jsonError(404, "no such console file");
}

}  // namespace plexus::admin
