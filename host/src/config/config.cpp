#include "config/config.hpp"

#include <fstream>
#include <sstream>

namespace plexus::config {
namespace {

using nlohmann::json;

bool validServiceName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

std::string parseLogLevel(const Reader& r, const json& l) {
  r.expectObject(l, "/log", {"level"}, {});
  if (!l.contains("level")) return "info";
  return r.oneOf(l["level"], "/log/level", {"debug", "info", "warn", "error"});
}

}  // namespace

Config parse(const std::string& text, const std::string& file, const Env& env) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    // Not only parse_error: a number too large for a double is out_of_range (found by tests/fuzz).
    throw ConfigError(file, "", std::string("malformed JSON: ") + e.what());
  }
  Reader r(file, env);
  r.expectObject(doc, "",
                 {"service", "http", "store", "transport", "plugin_dir", "plugin_dirs", "plugins",
                  "log", "console", "reload", "rebuild"},
                 {"service", "plugins"});
  Config c;
  c.file = file;
  c.service = r.string(doc["service"], "/service");
  if (!validServiceName(c.service))
    r.fail("/service", "must be 1-63 characters of a-z, 0-9 and '-', got \"" + c.service + "\"");
  if (doc.contains("http")) c.http = parseHttp(r, doc["http"]);
  if (doc.contains("store")) c.store = parseStore(r, doc["store"]);
  if (doc.contains("transport")) c.transport = parseTransport(r, doc["transport"]);
  if (!c.transport.kind.empty() && c.store.kind.empty())
    r.fail("/transport", "a transport needs a store (outbox and inbox live in it)");
  if (c.transport.kind.empty() && !c.store.kind.empty()) c.transport.kind = "inproc";
  if (doc.contains("console")) c.console = parseConsole(r, doc["console"]);
  if (doc.contains("log")) c.logLevel = parseLogLevel(r, doc["log"]);
  if (doc.contains("reload")) c.reload = parseReload(r, doc["reload"]);
  if (doc.contains("rebuild")) c.rebuild = parseRebuild(r, doc["rebuild"]);
  c.pluginDirs = parsePluginDirs(r, doc, c.pluginDirGiven);
  c.plugins = parsePlugins(r, doc["plugins"], c.pluginDirs);
  return c;
}

Config load(const std::string& file, const Env& env) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(file, "", "cannot read the file");
  std::ostringstream buf;
  buf << in.rdbuf();
  return parse(buf.str(), file, env);
}

}  // namespace plexus::config
