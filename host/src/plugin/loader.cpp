#include "plugin/loader.hpp"

#include "plugin/private_copy.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <boost/dll/shared_library.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

namespace plexus::plugin {
namespace {

// Plugins stay loaded for the life of the process, also through exit (OBS: never dlclose). The
// list is leaked on purpose: as a static it would be destroyed at exit, and each shared_library's
// destructor would dlclose its plugin while detached threads or later exit handlers may still be
// running the plugin's code. The exit itself unmaps everything.
void keepAlive(std::shared_ptr<boost::dll::shared_library> lib) {
  static auto* mu = new std::mutex;
  static auto* libs = new std::vector<std::shared_ptr<boost::dll::shared_library>>;
  std::lock_guard<std::mutex> lock(*mu);
  libs->push_back(std::move(lib));
}

std::function<void(const std::string&)>& beforeDlopenHook() {
  static std::function<void(const std::string&)> hook;
  return hook;
}

std::string errnoText() { return std::strerror(errno); }

void checkOwnerAndMode(const std::string& path, const struct stat& st, const std::string& what) {
  const uid_t me = geteuid();
  if (st.st_uid != me && st.st_uid != 0) {
    throw PluginError(path, what + " is owned by uid " + std::to_string(st.st_uid) +
                                ", not by the host's user (uid " + std::to_string(me) +
                                ") or root");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw PluginError(path, what + " is writable by group or others (mode " + mode + ")");
  }
}

// The allow-list: the directory that really holds the file must be one of the plugin directories
// itself. Returns that directory, resolved.
std::string allowedDirOf(const std::string& path, const std::string& dir,
                         const std::vector<std::string>& pluginDirs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path actual = fs::canonical(dir, ec);
  if (ec) throw PluginError(path, "cannot resolve its directory " + dir + ": " + ec.message());
  std::string resolved;
  for (const auto& pluginDir : pluginDirs) {
    const fs::path allowed = fs::canonical(pluginDir, ec);
    if (ec) {
      throw PluginError(
          path, "the plugin directory " + pluginDir + " cannot be resolved: " + ec.message());
    }
    if (actual == allowed) return allowed.string();
    resolved += (resolved.empty() ? "" : ", ") + allowed.string();
  }
  throw PluginError(
      path, "is outside the plugin director" + std::string(pluginDirs.size() == 1 ? "y " : "ies ") +
                resolved + " (plugin_dir and plugin_dirs admit only file names directly in them)");
}

template <class T>
T copySized(const T* src, const std::string& path, const std::string& what, size_t minimum) {
  if (src == nullptr) throw PluginError(path, what + " is a null pointer");
  const uint32_t size = src->struct_size;
  if (size < minimum) {
    throw PluginError(path, what + " has struct_size " + std::to_string(size) +
                                ", smaller than the minimum " + std::to_string(minimum));
  }
  T out{};
  std::memcpy(&out, src, size < sizeof(T) ? size : sizeof(T));
  out.struct_size = static_cast<uint32_t>(sizeof(T));
  return out;
}

std::string nameOf(const char* s) { return s == nullptr ? std::string() : std::string(s); }

std::vector<std::string> typeList(const char* const* types, size_t count, const std::string& path,
                                  const std::string& what) {
  if (count == 0 || types == nullptr) throw PluginError(path, what + " handles no message types");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < count; ++i) {
    if (types[i] == nullptr || types[i][0] == '\0')
      throw PluginError(path, what + " has an empty message type");
    if (!seen.insert(types[i]).second)
      throw PluginError(path, what + " lists message type " + std::string(types[i]) + " twice");
    out.emplace_back(types[i]);
  }
  return out;
}

// The host's own endpoints (http/server.cpp): a plugin route there would shadow them or be
// shadowed. Returns the reserved prefix `path` falls under, or null.
const char* reservedBy(const char* path) {
  static const char* const kReserved[] = {"/health", "/metrics", "/admin"};
  const std::string p(path);
  for (const char* r : kReserved) {
    const std::string prefix(r);
    if (p == prefix || p.rfind(prefix + "/", 0) == 0) return r;
  }
  return nullptr;
}

// The kinds a receptor declares for its types (ABI 1.2); all undeclared for older plugins.
std::vector<plexus_message_kind> kindList(const plexus_receptor_desc& r,
                                          const std::vector<std::string>& types,
                                          const std::string& path, const std::string& what) {
  std::vector<plexus_message_kind> out(types.size(), PLEXUS_MESSAGE_UNDECLARED);
  if (r.message_kinds == nullptr) return out;
  for (size_t i = 0; i < types.size(); ++i) {
    const plexus_message_kind k = r.message_kinds[i];
    if (k != PLEXUS_MESSAGE_UNDECLARED && k != PLEXUS_MESSAGE_COMMAND &&
        k != PLEXUS_MESSAGE_EVENT) {
      throw PluginError(path, what + " gives message type " + types[i] + " the unknown kind " +
                                  std::to_string(k) + " (1 command, 2 event)");
    }
    out[i] = k;
  }
  return out;
}

}  // namespace

std::string sha256Hex(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw PluginError(path, "cannot open: " + errnoText());
  try {
    std::string h = hashFd(fd, path);
    ::close(fd);
    return h;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

void checkPluginDirs(const std::vector<std::string>& pluginDirs) {
  for (const auto& dir : pluginDirs) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw PluginError(dir, "cannot open the plugin directory: " + errnoText());
    struct stat st {};
    const int rc = ::fstat(fd, &st);
    ::close(fd);
    if (rc != 0) throw PluginError(dir, "cannot stat the plugin directory: " + errnoText());
    checkOwnerAndMode(dir, st, "the plugin directory");
  }
}

int openTrusted(const std::string& path, const std::optional<std::string>& sha256,
                const std::vector<std::string>& pluginDirs) {
  namespace fs = std::filesystem;
  const fs::path given(path);
  const std::string name = given.filename().string();
  if (name.empty() || name == "." || name == "..") throw PluginError(path, "does not name a file");
  std::string dir = given.parent_path().empty() ? std::string(".") : given.parent_path().string();

  struct stat lst {};
  if (::lstat(path.c_str(), &lst) != 0)
    throw PluginError(path, "cannot access the file: " + errnoText());
  if (S_ISLNK(lst.st_mode)) {
    throw PluginError(path,
                      "is a symbolic link; list the real file (symlinked plugins are refused)");
  }
  if (!pluginDirs.empty()) dir = allowedDirOf(path, dir, pluginDirs);

  // Check the directory through a descriptor and open the file relative to it, so neither can be
  // replaced by a rename between the checks and the open.
  const int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0) throw PluginError(path, "cannot open its directory " + dir + ": " + errnoText());
  int fd = -1;
  try {
    struct stat dst {};
    if (::fstat(dirFd, &dst) != 0)
      throw PluginError(path, "cannot stat its directory: " + errnoText());
    checkOwnerAndMode(path, dst, "its directory " + dir);
    // O_NONBLOCK: a FIFO planted under the plugin's name must not hang the host in open().
    fd = ::openat(dirFd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
      if (errno == ELOOP) {
        throw PluginError(path,
                          "is a symbolic link; list the real file (symlinked plugins are refused)");
      }
      throw PluginError(path, "cannot open: " + errnoText());
    }
    ::close(dirFd);
  } catch (...) {
    ::close(dirFd);
    throw;
  }
  try {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw PluginError(path, "cannot stat: " + errnoText());
    if (!S_ISREG(st.st_mode)) throw PluginError(path, "is not a regular file");
    checkOwnerAndMode(path, st, "the file");
    if (sha256) {
      const std::string actual = hashFd(fd, path);
      if (actual != *sha256) {
        throw PluginError(path, "sha256 mismatch: config pins " + *sha256 + ", file has " + actual);
      }
    }
    return fd;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

void setBeforeDlopenHookForTesting(std::function<void(const std::string& path)> hook) {
  beforeDlopenHook() = std::move(hook);
}

std::shared_ptr<LoadedPlugin> load(const std::string& path,
                                   const std::optional<std::string>& sha256,
                                   const std::vector<std::string>& pluginDirs) {
  const int checked = openTrusted(path, sha256, pluginDirs);
  int fd = -1;
  std::string copied;
  try {
    fd = privateCopy(checked, path, sha256,
                     copied);  // what loads can no longer change under the host
  } catch (...) {
    ::close(checked);
    throw;
  }
  ::close(checked);
  if (beforeDlopenHook()) beforeDlopenHook()(path);
  // Load the private copy of the file we checked, not whatever the path names now.
  const std::string fdPath = "/proc/self/fd/" + std::to_string(fd);
  auto lib = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  lib->load(fdPath, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    // Boost.DLL drops dlerror(); ask the dynamic linker again for the reason (e.g. the name of a
    // missing dependency). Nothing ran: a failed dlopen runs no constructors.
    std::string reason = "cannot be loaded";
    void* h = ::dlopen(fdPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = ::dlerror();
      if (e != nullptr) {
        std::string text(e);
        const std::string prefix = fdPath + ": ";
        if (text.rfind(prefix, 0) == 0) text = text.substr(prefix.size());
        reason += ": " + text;
      }
    } else {
      ::dlclose(h);  // unreachable in practice: Boost failed, dlopen succeeded
    }
    ::close(fd);
    throw PluginError(path, reason);
  }
  // The copy stays open for the life of the process: the dynamic linker knows this object by the
  // name "/proc/self/fd/N", and a reused N would make it hand back the wrong plugin.
  keepAlive(lib);

  if (!lib->has(PLEXUS_PLUGIN_ENTRY_SYMBOL)) {
    throw PluginError(path, std::string("has no entry symbol ") + PLEXUS_PLUGIN_ENTRY_SYMBOL +
                                " (not a Plexus plugin, or PLEXUS_PLUGIN(...) is missing)");
  }
  auto entry = lib->get<const plexus_plugin_desc*()>(PLEXUS_PLUGIN_ENTRY_SYMBOL);
  auto loaded = validateDescriptor(path, entry());
  loaded->sha256 = copied;
  return loaded;
}

std::shared_ptr<LoadedPlugin> validateDescriptor(const std::string& path,
                                                 const plexus_plugin_desc* raw) {
  if (raw == nullptr) throw PluginError(path, "entry point returned no descriptor (null)");

  // The fields up to the version are the minimum every ABI 1 plugin has.
  const size_t minimum = offsetof(plexus_plugin_desc, version) + sizeof(raw->version);
  if (raw->struct_size < minimum) {
    throw PluginError(
        path, "descriptor struct_size " + std::to_string(raw->struct_size) + " is too small");
  }
  if (raw->abi_major != PLEXUS_ABI_MAJOR) {
    throw PluginError(path, "built for ABI major " + std::to_string(raw->abi_major) +
                                ", this host speaks ABI major " + std::to_string(PLEXUS_ABI_MAJOR));
  }
  if (raw->abi_minor > PLEXUS_ABI_MINOR) {
    throw PluginError(path, "built for ABI " + std::to_string(raw->abi_major) + "." +
                                std::to_string(raw->abi_minor) + ", newer than this host's " +
                                std::to_string(PLEXUS_ABI_MAJOR) + "." +
                                std::to_string(PLEXUS_ABI_MINOR) + "; upgrade the host");
  }
  plexus_plugin_desc d{};
  std::memcpy(&d, raw, raw->struct_size < sizeof d ? raw->struct_size : sizeof d);

  auto out = std::make_shared<LoadedPlugin>();
  out->path = path;
  out->name = nameOf(d.name);
  out->version = nameOf(d.version);
  out->abiMajor = d.abi_major;
  out->abiMinor = d.abi_minor;
  if (out->name.empty()) throw PluginError(path, "descriptor has no plugin name");
  if (out->version.empty()) throw PluginError(path, "descriptor has no plugin version");

  std::set<std::string> names;
  auto claim = [&](const std::string& name, const std::string& what) {
    if (name.empty()) throw PluginError(path, what + " has no name");
    if (!names.insert(name).second)
      throw PluginError(path, "duplicate component name \"" + name + "\"");
  };
  const size_t handlerMin = offsetof(plexus_receptor_desc, destroy) + sizeof(void*);
  if (d.receptor_count > 0 && d.receptors == nullptr)
    throw PluginError(path, "receptor array is null");
  for (size_t i = 0; i < d.receptor_count; ++i) {
    auto r = copySized(d.receptors[i], path, "receptor #" + std::to_string(i), handlerMin);
    const std::string what = "receptor \"" + nameOf(r.name) + "\"";
    claim(nameOf(r.name), "receptor #" + std::to_string(i));
    if (r.create == nullptr || r.handle == nullptr || r.destroy == nullptr) {
      throw PluginError(path, what + " lacks create, handle or destroy");
    }
    out->receptorTypes.push_back(typeList(r.message_types, r.message_type_count, path, what));
    out->receptorKinds.push_back(kindList(r, out->receptorTypes.back(), path, what));
    out->receptors.push_back(r);
  }
  if (d.perspective_count > 0 && d.perspectives == nullptr)
    throw PluginError(path, "perspective array is null");
  for (size_t i = 0; i < d.perspective_count; ++i) {
    auto p = copySized(d.perspectives[i], path, "perspective #" + std::to_string(i), handlerMin);
    const std::string what = "perspective \"" + nameOf(p.name) + "\"";
    claim(nameOf(p.name), "perspective #" + std::to_string(i));
    if (p.create == nullptr || p.handle == nullptr || p.destroy == nullptr) {
      throw PluginError(path, what + " lacks create, handle or destroy");
    }
    out->perspectiveTypes.push_back(typeList(p.event_types, p.event_type_count, path, what));
    // ABI 1.3; zero-extended (async) for older plugins.
    if (p.projection != PLEXUS_PROJECTION_ASYNC && p.projection != PLEXUS_PROJECTION_INLINE) {
      throw PluginError(path, what + " has the unknown projection " + std::to_string(p.projection) +
                                  " (0 async, 1 inline)");
    }
    out->perspectives.push_back(p);
  }
  if (d.route_count > 0 && d.routes == nullptr) throw PluginError(path, "route array is null");
  static const std::set<std::string> methods{"GET", "POST", "PUT", "PATCH", "DELETE"};
  for (size_t i = 0; i < d.route_count; ++i) {
    auto r = copySized(d.routes[i], path, "route #" + std::to_string(i),
                       offsetof(plexus_route_desc, destroy) + sizeof(void*));
    const std::string what = "route \"" + nameOf(r.name) + "\"";
    claim(nameOf(r.name), "route #" + std::to_string(i));
    if (r.create == nullptr || r.handle == nullptr || r.destroy == nullptr) {
      throw PluginError(path, what + " lacks create, handle or destroy");
    }
    if (methods.count(nameOf(r.method)) == 0) {
      throw PluginError(path, what + " has an unsupported method \"" + nameOf(r.method) + "\"");
    }
    if (r.path == nullptr || r.path[0] != '/')
      throw PluginError(path, what + " path must start with '/'");
    if (const char* owner = reservedBy(r.path)) {
      throw PluginError(path, "plugin " + out->name + ": " + what + " path " + r.path +
                                  " is under " + owner +
                                  ", which the host serves itself; choose a path outside /health, "
                                  "/metrics and /admin (e.g. under /api/)");
    }
    out->routes.push_back(r);
  }
  if (d.migration_count > 0 && d.migrations == nullptr)
    throw PluginError(path, "migration array is null");
  static const std::set<std::string> dialects{"postgresql", "sqlite", "any"};
  std::set<std::pair<std::string, uint32_t>> versions;
  for (size_t i = 0; i < d.migration_count; ++i) {
    auto m = copySized(d.migrations[i], path, "migration #" + std::to_string(i),
                       offsetof(plexus_migration_desc, sql) + sizeof(void*));
    if (m.version == 0)
      throw PluginError(path, "migration #" + std::to_string(i) + " has version 0");
    if (dialects.count(nameOf(m.dialect)) == 0) {
      throw PluginError(path, "migration " + std::to_string(m.version) +
                                  " has an unknown dialect \"" + nameOf(m.dialect) + "\"");
    }
    if (m.sql == nullptr || m.sql[0] == '\0')
      throw PluginError(path, "migration " + std::to_string(m.version) + " has no SQL");
    if (!versions.insert({nameOf(m.dialect), m.version}).second) {
      throw PluginError(path, "migration version " + std::to_string(m.version) +
                                  " appears twice for " + nameOf(m.dialect));
    }
    out->migrations.push_back(m);
  }
  return out;
}

}  // namespace plexus::plugin
