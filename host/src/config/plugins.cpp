#include "config/plugins.hpp"

#include "config/reader.hpp"

#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <set>

namespace plexus::config {
namespace {

using nlohmann::json;

bool validSha256(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The directory a bare library name is found in: the only one, or the first that has an entry of
// that name. lstat, so a symlink counts as found and the loader refuses it, instead of the lookup
// quietly falling through to a later directory.
std::string lookUp(const Reader& r, const std::string& library,
                   const std::vector<std::string>& dirs, const std::string& path) {
  if (dirs.size() == 1) return dirs.front();
  std::string searched;
  for (const auto& dir : dirs) {
    struct stat st {};
    if (::lstat((std::filesystem::path(dir) / library).c_str(), &st) == 0) return dir;
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  r.fail(path, "\"" + library + "\" is in none of the plugin directories (" + searched + ")");
}

Plugin parsePlugin(const Reader& r, const json& p, size_t i,
                   const std::vector<std::string>& pluginDirs) {
  const std::string path = "/plugins/" + std::to_string(i);
  r.expectObject(p, path, {"library", "sha256", "components", "config"}, {"library"});
  Plugin pl;
  pl.index = i;
  pl.library = r.string(p["library"], path + "/library");
  if (pl.library.empty()) r.fail(path + "/library", "must not be empty");
  namespace fs = std::filesystem;
  const fs::path lib(pl.library);
  pl.path = (pl.library.find('/') != std::string::npos
                 ? lib
                 : fs::path(lookUp(r, pl.library, pluginDirs, path + "/library")) / lib)
                .lexically_normal()
                .string();
  if (p.contains("sha256")) {
    std::string h = r.string(p["sha256"], path + "/sha256");
    for (char& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!validSha256(h)) r.fail(path + "/sha256", "expected 64 hexadecimal digits");
    pl.sha256 = h;
  }
  if (p.contains("components")) {
    pl.components = r.strings(p["components"], path + "/components");
    if (pl.components.empty())
      r.fail(path + "/components", "must not be empty (omit it to enable every component)");
  }
  if (p.contains("config")) {
    if (!p["config"].is_object())
      r.fail(path + "/config", "expected an object, got " + Reader::describe(p["config"]));
    pl.config = r.expandTree(p["config"], path + "/config");
  }
  return pl;
}

}  // namespace

std::vector<std::string> parsePluginDirs(const Reader& r, const json& doc, bool& given) {
  if (doc.contains("plugin_dir") && doc.contains("plugin_dirs")) {
    r.fail("/plugin_dirs",
           "give either plugin_dir (one directory) or plugin_dirs (several), not both");
  }
  given = doc.contains("plugin_dir") || doc.contains("plugin_dirs");
  if (!given) return {"."};
  if (doc.contains("plugin_dir")) {
    std::string dir = r.string(doc["plugin_dir"], "/plugin_dir");
    if (dir.empty()) r.fail("/plugin_dir", "must not be empty");
    return {dir};
  }
  std::vector<std::string> dirs = r.strings(doc["plugin_dirs"], "/plugin_dirs");
  if (dirs.empty()) r.fail("/plugin_dirs", "must not be empty");
  std::set<std::string> seen;
  for (size_t i = 0; i < dirs.size(); ++i) {
    const std::string at = "/plugin_dirs/" + std::to_string(i);
    if (dirs[i].empty()) r.fail(at, "must not be empty");
    if (!seen.insert((std::filesystem::path(dirs[i]) / "").lexically_normal().string()).second)
      r.fail(at, "directory \"" + dirs[i] + "\" is listed twice");
  }
  return dirs;
}

std::vector<Plugin> parsePlugins(const Reader& r, const json& plugins,
                                 const std::vector<std::string>& pluginDirs) {
  if (!plugins.is_array())
    r.fail("/plugins", "expected an array, got " + Reader::describe(plugins));
  std::vector<Plugin> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < plugins.size(); ++i) {
    Plugin pl = parsePlugin(r, plugins[i], i, pluginDirs);
    if (!seen.insert(pl.path).second)
      r.fail("/plugins/" + std::to_string(i) + "/library",
             "plugin \"" + pl.library + "\" is listed twice");
    out.push_back(std::move(pl));
  }
  return out;
}

}  // namespace plexus::config
