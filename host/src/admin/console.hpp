#pragma once
// /admin/console/: the operator console's static files (HTML, CSS, JS), built into the binary by
// cmake/EmbedAssets.cmake. They hold no data and load without a token (Authenticator exempts
// exactly these paths); every data call the page makes carries the bearer token.

#include "plugin/runtime.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace plexus::admin {

struct ConsoleAsset {
  const char* name;  // file name under /admin/console/
  const char* contentType;
  const char* etag;  // quoted, strong: the first 128 bits of the SHA-256 of the bytes
  std::string_view bytes;
};

// Generated at build time.
const std::vector<ConsoleAsset>& consoleAssets();

// The Content-Security-Policy of every console file: only the host's own scripts, styles and
// API; no inline script or style, no frames, no other origin.
extern const char* const kConsoleCsp;

// GET /admin/console (redirect), /admin/console/ (index.html), /admin/console/{file}; 304 when
// If-None-Match names the file's current ETag.
plugin::HttpResponse serveConsole(const plugin::HttpRequest& req,
                                  const std::vector<std::string>& segs, std::string& routeLabel);

}  // namespace plexus::admin
