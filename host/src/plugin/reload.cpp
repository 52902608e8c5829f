#include "plugin/reload.hpp"

#include "config/config.hpp"
#include "observability/log.hpp"
#include "observability/process_metrics.hpp"
#include "plugin/migrations.hpp"
#include "plugin/runtime.hpp"
#include "store/migrations.hpp"

#include <chrono>
#include <map>
#include <set>
#include <thread>

namespace plexus::plugin {
namespace {

using nlohmann::json;

const char* kindName(Kind k) {
  return k == Kind::Receptor ? "receptor" : k == Kind::Perspective ? "perspective" : "route";
}

std::string typesText(const std::vector<std::string>& types) {
  std::string out;
  for (const auto& t : types) out += (out.empty() ? "" : ", ") + t;
  return "[" + out + "]";
}

// What a new version changes that the host's routing was built from ("" when nothing).
std::string shapeDifference(const std::vector<Component*>& before,
                            const std::vector<std::unique_ptr<Component>>& after) {
  auto key = [](const Component& c) { return std::string(kindName(c.kind)) + " " + c.name; };
  std::map<std::string, const Component*> old, now;
  for (const auto* c : before) old[key(*c)] = c;
  for (const auto& c : after) now[key(*c)] = c.get();
  std::string diff;
  auto add = [&](const std::string& what) { diff += (diff.empty() ? "" : "; ") + what; };
  for (const auto& [k, c] : old) {
    if (now.count(k) == 0) add("drops " + k);
  }
  for (const auto& [k, c] : now) {
    auto it = old.find(k);
    if (it == old.end()) {
      add("adds " + k);
      continue;
    }
    const Component& o = *it->second;
    if (o.types != c->types)
      add("changes the types of " + k + " from " + typesText(o.types) + " to " +
          typesText(c->types));
    if (o.method != c->method || o.pathTemplate != c->pathTemplate) {
      add("moves " + k + " from " + o.method + " " + o.pathTemplate + " to " + c->method + " " +
          c->pathTemplate);
    }
  }
  return diff;
}

// A plugin's config entry as a comparable text (pin, components filter, plugin config).
std::string entryText(const config::Plugin& pc) {
  return json{
      {"sha256", pc.sha256.value_or("")}, {"components", pc.components}, {"config", pc.config}}
      .dump();
}

// Whether `now` ships a migration `before` did not (or changed one, which migrate refuses).
bool hasNewMigrations(const LoadedPlugin& before, const LoadedPlugin& now,
                      const store::Dialect& dialect) {
  std::set<std::pair<uint32_t, std::string>> known;
  for (const auto& m : migrationsOf({std::make_shared<LoadedPlugin>(before)}, dialect))
    known.insert({m.version, store::checksum(m.sql)});
  for (const auto& m : migrationsOf({std::make_shared<LoadedPlugin>(now)}, dialect)) {
    if (known.count({m.version, store::checksum(m.sql)}) == 0) return true;
  }
  return false;
}

void destroyAll(const std::vector<Component*>& created) {
  for (Component* c : created) {
    if (c->instance != nullptr) c->destroy(c->instance);
    c->instance = nullptr;
  }
}

// Waits (bounded) until no call runs on the replaced versions; true when none does.
bool drain(const std::vector<Component*>& replaced, int timeoutMs, int64_t& tookMs) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(timeoutMs);
  auto busy = [&] {
    for (const Component* c : replaced) {
      if (c->inFlight.load() > 0) return true;
    }
    return false;
  };
  bool waiting = busy();
  while (waiting && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a bounded drain, polled
    waiting = busy();
  }
  tookMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
               .count();
  return !waiting;
}

}  // namespace

json ReloadOutcome::toJson() const {
  json out{{"plugin", plugin}, {"reloaded", reloaded}, {"from", from}};
  if (unchanged) out["unchanged"] = true;
  if (!to.empty()) out["to"] = to;
  if (!sha256.empty()) out["sha256"] = sha256;
  if (reloaded) {
    out["migrationsApplied"] = migrationsApplied;
    out["drained"] = drained;
    out["drainMs"] = drainMs;
  } else if (!unchanged) {
    out["error"] = reason;
    out["serving"] = from;
  }
  return out;
}

Reloader::Reloader(Runtime& runtime, Metrics& metrics, const config::Config& loaded,
                   store::Store* store, int drainTimeoutMs)
    : runtime_(runtime),
      metrics_(metrics),
      configFile_(loaded.file),
      store_(store),
      drainTimeoutMs_(drainTimeoutMs) {
  for (const auto& pc : loaded.plugins) entries_[pc.path] = entryText(pc);
}

ReloadOutcome Reloader::reload(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  return reloadLocked(name);
}

std::vector<ReloadOutcome> Reloader::reloadChanged() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> now;  // path -> entry in the config as it is now
  try {
    for (const auto& pc : config::load(configFile_).plugins) now[pc.path] = entryText(pc);
  } catch (const config::ConfigError&) {
    // Each reload below reads it again and reports the error.
  }
  std::vector<ReloadOutcome> out;
  for (const auto& p : runtime_.plugins()) {
    std::string hash;
    try {
      hash = sha256Hex(p->path);
    } catch (const PluginError&) {
      // Unreadable now: the reload reports why.
    }
    auto entry = now.find(p->path);
    if (hash == p->sha256 && entry != now.end() && entry->second == entries_[p->path]) {
      ReloadOutcome same;
      same.plugin = p->name;
      same.from = p->version;
      same.unchanged = true;
      out.push_back(same);
      continue;
    }
    out.push_back(reloadLocked(p->name));
  }
  return out;
}

ReloadOutcome Reloader::reloadLocked(const std::string& name) {
  ReloadOutcome out;
  out.plugin = name;
  auto refuse = [&](int status, const std::string& reason) {
    out.status = status;
    out.reason = reason;
    log::write(log::Level::Warn, "plugin reload refused; the serving version stays",
               json{{"plugin", name}, {"serving", out.from}, {"reason", reason}});
    return out;
  };
  std::shared_ptr<LoadedPlugin> old;
  for (const auto& p : runtime_.plugins()) {
    if (p->name == name) old = p;
  }
  if (!old) return refuse(404, "no plugin named \"" + name + "\" is loaded in this host");
  out.from = old->version;

  config::Config cfg;
  try {
    cfg = config::load(configFile_);
  } catch (const config::ConfigError& e) {
    return refuse(400, std::string("the config cannot be read again: ") + e.what());
  }
  const config::Plugin* entry = nullptr;
  for (const auto& pc : cfg.plugins) {
    if (pc.path == old->path) entry = &pc;
  }
  if (entry == nullptr) {
    return refuse(409, configFile_ + " no longer lists " + old->path +
                           "; a reload loads the same file name (adding or removing a plugin "
                           "needs a restart)");
  }
  std::shared_ptr<LoadedPlugin> lp;
  std::vector<std::unique_ptr<Component>> fresh;
  try {
    lp = load(entry->path, entry->sha256,
              cfg.pluginDirGiven ? cfg.pluginDirs : std::vector<std::string>{});
    out.to = lp->version;
    out.sha256 = lp->sha256;
    if (lp->name != name) {
      return refuse(409,
                    entry->path + " now holds plugin \"" + lp->name + "\", not \"" + name + "\"");
    }
    fresh = runtime_.componentsOf(lp, *entry);
  } catch (const PluginError& e) {
    return refuse(409, e.what());
  }
  std::vector<Component*> serving;
  for (Component* c : runtime_.components()) {
    if (c->plugin->name == name) serving.push_back(c);
  }
  const std::string diff = shapeDifference(serving, fresh);
  if (!diff.empty()) {
    return refuse(409, "version " + lp->version + " " + diff +
                           ": a reload keeps a plugin's components, types and routes; roll this "
                           "version out with a restart");
  }

  // Instances first: a create that fails leaves the schema as it was.
  std::vector<Component*> created;
  try {
    for (auto& c : fresh) {
      runtime_.create(*c);
      created.push_back(c.get());
    }
  } catch (const PluginError& e) {
    destroyAll(created);
    return refuse(409, e.what());
  }
  if (store_ != nullptr && hasNewMigrations(*old, *lp, store_->dialect())) {
    auto plugins = runtime_.plugins();
    for (auto& p : plugins) {
      if (p->name == name) p = lp;
    }
    try {
      out.migrationsApplied =
          store::migrate(*store_, migrationsOf(plugins, store_->dialect())).applied;
    } catch (const store::MigrationError& e) {
      destroyAll(created);
      return refuse(409, std::string("migration refused: ") + e.what());
    } catch (const store::SqlError& e) {
      destroyAll(created);
      return refuse(
          409, std::string("a migration failed; none of this reload's was applied: ") + e.what());
    }
  }

  const std::vector<Component*> replaced = runtime_.replace(lp, std::move(fresh));
  entries_[entry->path] = entryText(*entry);
  process::setPluginVersion(metrics_, name, out.from, false);
  process::setPluginVersion(metrics_, name, out.to, true);
  out.drained = drain(replaced, drainTimeoutMs_, out.drainMs);
  std::vector<Component*> idle;
  for (Component* c : replaced) {
    if (c->inFlight.load() == 0) idle.push_back(c);  // still busy after the timeout: kept
  }
  destroyAll(idle);
  out.reloaded = true;
  log::write(out.drained ? log::Level::Info : log::Level::Warn,
             out.drained ? "plugin reloaded"
                         : "plugin reloaded; calls on the old version outlived the drain timeout",
             json{{"plugin", name},
                  {"from", out.from},
                  {"to", out.to},
                  {"sha256", out.sha256},
                  {"migrations_applied", out.migrationsApplied},
                  {"drained", out.drained},
                  {"drain_ms", out.drainMs}});
  return out;
}

}  // namespace plexus::plugin
