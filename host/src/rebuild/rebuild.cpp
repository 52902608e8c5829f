#include "rebuild/rebuild.hpp"

#include "base/clock.hpp"
#include "base/uuid.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "plugin/migrations.hpp"
#include "plugin/runtime.hpp"
#include "rebuild/broker_source.hpp"
#include "rebuild/shadow.hpp"

#include <plexus/sdk/rfc3339.hpp>
#include <thread>

namespace plexus::rebuild {
namespace {

using nlohmann::json;

constexpr int kSwitchAttempts = 5;
constexpr int kBatchAttempts = 5;
constexpr int64_t kPersistEveryMs = 1000;
constexpr int64_t kLogEveryMs = 5000;
// A rebuild whose record was not updated for this long is abandoned (its process died).
constexpr int64_t kAliveMs = 120000;

std::string componentOf(const Target& t) { return t.plugin->name + "/" + t.perspective; }

}  // namespace

Target findTarget(const config::Config& config,
                  const std::vector<std::shared_ptr<plugin::LoadedPlugin>>& plugins,
                  const std::string& id) {
  const size_t slash = id.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == id.size())
    throw RebuildError("component must be PLUGIN/PERSPECTIVE, got \"" + id + "\"");
  Target t;
  t.perspective = id.substr(slash + 1);
  for (const auto& p : plugins) {
    if (p->name == id.substr(0, slash)) t.plugin = p;
  }
  if (!t.plugin) throw RebuildError("no plugin named \"" + id.substr(0, slash) + "\" is loaded");
  bool found = false;
  for (const auto& pc : config.plugins) {
    if (pc.path == t.plugin->path) {
      t.entry = pc;
      found = true;
    }
  }
  if (!found) throw RebuildError(config.file + " does not list " + t.plugin->path);
  return t;
}

Rebuild::Rebuild(const config::Config& config, store::Store& live, Metrics& metrics,
                 const Clock& clock, Target target, std::string owner, bool inHost)
    : config_(config),
      live_(live),
      metrics_(metrics),
      clock_(clock),
      target_(std::move(target)),
      inHost_(inHost) {
  record_.id = newUuidV7();
  record_.component = componentOf(target_);
  record_.state = "preparing";
  record_.source = config_.transport.kind == "rabbitmq" ? "broker" : "local";
  record_.owner = std::move(owner);
  record_.tables = target_.tables;
  const std::vector<std::string> byComponent{"component"};
  std::string error;
  eventsMetric_ = metrics_.define(Metrics::Kind::Counter, "plexus_rebuild_events_total",
                                  "Events a rebuild applied to its shadow read model.", byComponent,
                                  {}, error, true);
  lagMetric_ = metrics_.define(Metrics::Kind::Gauge, "plexus_rebuild_lag_events",
                               "Events a running rebuild knows of and has not applied yet.",
                               byComponent, {}, error, true);
  runningMetric_ = metrics_.define(Metrics::Kind::Gauge, "plexus_rebuild_running",
                                   "1 while a rebuild of the component runs in this process.",
                                   byComponent, {}, error, true);
}

Rebuild::~Rebuild() {
  for (auto& c : components_) {
    if (c->instance != nullptr) c->destroy(c->instance);
    c->instance = nullptr;
  }
  if (runningMetric_ > 0) metrics_.update(runningMetric_, {record_.component}, 0);
}

void Rebuild::begin() {
  // An instance of the perspective of its own, in a runtime that serves nothing else.
  runtime_ = std::make_unique<plugin::Runtime>(metrics_, clock_);
  try {
    components_ = runtime_->componentsOf(target_.plugin, target_.entry);
  } catch (const plugin::PluginError& e) {
    throw RebuildError(e.what());
  }
  for (auto& c : components_) {
    if (c->kind == plugin::Kind::Perspective && c->name == target_.perspective)
      perspective_ = c.get();
  }
  if (perspective_ == nullptr) {
    throw RebuildError("plugin " + target_.plugin->name + " (" + target_.plugin->version +
                       ") has no perspective \"" + target_.perspective +
                       "\" enabled in this host's config");
  }
  types_ = perspective_->types;
  const int64_t now = clock_.nowMs();
  record_.startedAt = record_.updatedAt = now;
  {
    auto tx = live_.begin();
    // One at a time per component across replicas (PostgreSQL: a lock; SQLite: the write lock).
    live_.dialect().takeHandlerLock(*tx, "rebuild:" + record_.component);
    if (!records::insertUnlessRunning(*tx, record_, now - kAliveMs)) {
      const auto other = records::running(*tx, record_.component, now - kAliveMs);
      throw RebuildError(
          "a rebuild of " + record_.component + " is running already" +
          (other ? " (" + other->id + ", " + other->state + ", on " + other->owner + ")"
                 : std::string()));
    }
    tx->commit();
  }
  if (runningMetric_ > 0) metrics_.update(runningMetric_, {record_.component}, 1);
  log::write(log::Level::Info, "rebuild started",
             json{{"rebuild", record_.id},
                  {"component", record_.component},
                  {"plugin_version", target_.plugin->version},
                  {"source", record_.source},
                  {"types", types_}});
}

Record Rebuild::run() {
  try {
    prepare();
    replay();
    catchUp();
    switchOver();
  } catch (const std::exception& e) {
    fail(cancelled_ ? "cancelled" : "failed", e.what());
    throw RebuildError(record_.component + ": rebuild " + record_.id + " " + record_.state + ": " +
                       e.what());
  }
  return snapshot();
}

void Rebuild::prepare() {
  shadow_ = Shadow::open(config_.store, live_, record_.id, inHost_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    record_.shadow = shadow_->location();
  }
  shadow_->prepare(plugin::migrationsOf({target_.plugin}, live_.dialect()));
  runtime_->create(*perspective_);
  applier_ = std::make_unique<Applier>(*runtime_, *perspective_);
  source_ = makeSource(config_, types_, record_.id, clock_, cancelled_);
  setState("replaying");
}

void Rebuild::replay() {
  const auto started = std::chrono::steady_clock::now();
  auto history = [&](store::Transaction& tx) {
    return source_->history(tx, config_.rebuild.batch);
  };
  while (batch(history) > 0) {
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const Record r = snapshot();
  log::write(log::Level::Info, "rebuild: history replayed",
             json{{"rebuild", r.id},
                  {"component", r.component},
                  {"events", r.events},
                  {"seconds", seconds},
                  {"events_per_second", seconds > 0 ? double(r.events) / seconds : 0.0}});
  setState("catching-up");
}

// Until a round finds less than a batch waiting: the rest goes in with the switch, or to the live
// perspective after it (events keep coming; waiting for none would never end under load).
void Rebuild::catchUp() {
  auto recent = [&](store::Transaction& tx) { return source_->recent(tx, config_.rebuild.batch); };
  while (batch(recent) >= static_cast<size_t>(config_.rebuild.batch)) {
  }
}

size_t Rebuild::batch(const std::function<std::vector<Message>(store::Transaction&)>& read) {
  for (int attempt = 1;; ++attempt) {
    checkCancelled();
    try {
      size_t n = 0;
      Counts c;
      {  // a SQLite transaction holds its store until it is destroyed: before persist() reads
        auto tx = shadow_->store().begin();
        const std::vector<Message> events = read(*tx);
        n = events.size();
        c = applier_->apply(*tx, events);
        tx->commit();
      }
      source_->committed();
      account(c);
      persist(false);
      return n;
    } catch (const store::SqlError& e) {
      source_->rewind();
      if (!e.transient() || attempt >= kBatchAttempts) throw;
      log::write(log::Level::Warn, "rebuild: a batch failed; running it again",
                 json{{"rebuild", record_.id}, {"attempt", attempt}, {"error", e.what()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));  // backoff
    }
  }
}

void Rebuild::switchOver() {
  setState("switching");
  for (int attempt = 1;; ++attempt) {
    checkCancelled();
    try {
      if (switchOnce()) return;
    } catch (const store::SqlError& e) {
      source_->rewind();
      if (!e.transient() || attempt >= kSwitchAttempts) throw;
      log::write(log::Level::Warn, "rebuild: the switch failed; catching up and trying again",
                 json{{"rebuild", record_.id}, {"attempt", attempt}, {"error", e.what()}});
    }
    catchUp();
  }
}

// The switch, in one transaction of the shadow's store (which sees both sides).
bool Rebuild::switchOnce() {
  const int64_t started = clock_.nowMs();
  Counts tail;
  std::string retired;
  std::vector<std::string> tables;
  {
    const auto hold = shadow_->quiesce();
    auto tx = shadow_->store().begin();
    // First a write to the deployment's store (SQLite: its write lock), then the perspective's
    // handler lock (PostgreSQL: every replica's handling of it waits until the commit).
    tx->exec("UPDATE plexus_rebuilds SET updated_at = $2 WHERE id = $1",
             {record_.id, static_cast<long long>(started)});
    live_.dialect().takeHandlerLock(*tx, record_.component);
    const int64_t since = started - int64_t{config_.transport.retentionHours} * 3600 * 1000;
    // What the live perspective handled must be in; what is still on its way is handled live
    // after the switch (it is in neither the shadow nor the inbox).
    tail += applier_->apply(*tx, source_->missing(*tx, record_.component, since));
    tables = target_.tables.empty() ? shadow_->tables(*tx, true) : target_.tables;
    if (tables.empty())
      throw RebuildError("the replay filled no table; name the read model's tables");
    // What the shadow applied and the live perspective has not handled yet must not be handled
    // again after the switch: its inbox hears of it (within the inbox's retention).
    tx->exec(
        "INSERT INTO plexus_inbox (message_id, handler, processed_at) SELECT l.message_id, $1, $2 "
        "FROM plexus_rebuild_ledger l WHERE l.occurred_at >= $3 AND NOT EXISTS (SELECT 1 FROM "
        "plexus_inbox i WHERE i.message_id = l.message_id AND i.handler = $1)",
        {record_.component, static_cast<long long>(started), static_cast<long long>(since)});
    retired = shadow_->swapIn(*tx, tables);
    Record done = snapshot();
    done.events += tail.applied;
    done.duplicates += tail.duplicates;
    done.rejected += tail.rejected;
    done.state = "switched";
    done.retired = retired;
    done.tables = tables;
    done.lag = 0;
    done.updatedAt = done.switchedAt.emplace(clock_.nowMs());
    done.dropAfter = *done.switchedAt + int64_t{config_.rebuild.gracePeriodSeconds} * 1000;
    records::update(*tx, done);
    tx->commit();
    source_->committed();
    std::lock_guard<std::mutex> lock(mu_);
    record_ = done;
  }
  if (eventsMetric_ > 0) metrics_.update(eventsMetric_, {record_.component}, double(tail.applied));
  if (lagMetric_ > 0) metrics_.update(lagMetric_, {record_.component}, 0);
  shadow_->discard();
  const Record r = snapshot();
  const double seconds = static_cast<double>(*r.switchedAt - r.startedAt) / 1000.0;
  log::write(log::Level::Info, "rebuild switched: the new read model serves",
             json{{"rebuild", r.id},
                  {"component", r.component},
                  {"tables", r.tables},
                  {"retired", r.retired},
                  {"events", r.events},
                  {"duplicates", r.duplicates},
                  {"rejected", r.rejected},
                  {"seconds", seconds},
                  {"events_per_second", seconds > 0 ? double(r.events) / seconds : 0.0},
                  {"switch_ms", *r.switchedAt - started},
                  {"drop_after", plexus::rfc3339::format(*r.dropAfter)}});
  return true;
}

void Rebuild::account(const Counts& c) {
  std::lock_guard<std::mutex> lock(mu_);
  record_.events += c.applied;
  record_.duplicates += c.duplicates;
  record_.rejected += c.rejected;
  if (eventsMetric_ > 0) metrics_.update(eventsMetric_, {record_.component}, double(c.applied));
}

void Rebuild::setState(const std::string& state) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    record_.state = state;
  }
  persist(true);
}

// The record (and the lag) at most once a second; a progress log line every few seconds.
void Rebuild::persist(bool force) {
  const int64_t now = clock_.nowMs();
  if (!force && now - persistedAt_ < kPersistEveryMs) return;
  persistedAt_ = now;
  if (shadow_ && source_) {
    try {
      auto tx = shadow_->store().begin();
      const int64_t lag = source_->lag(*tx);
      tx->commit();
      std::lock_guard<std::mutex> lock(mu_);
      if (lag >= 0) record_.lag = lag;
    } catch (const store::SqlError&) {
      // progress only: the next one reads it again
    }
  }
  Record r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    record_.updatedAt = now;
    r = record_;
  }
  if (lagMetric_ > 0) metrics_.update(lagMetric_, {r.component}, double(r.lag));
  auto tx = live_.begin();
  records::update(*tx, r);
  tx->commit();
  if (force || now - loggedAt_ >= kLogEveryMs) {
    loggedAt_ = now;
    const double seconds = static_cast<double>(now - r.startedAt) / 1000.0;
    log::write(log::Level::Info, "rebuild progress",
               json{{"rebuild", r.id},
                    {"component", r.component},
                    {"state", r.state},
                    {"events", r.events},
                    {"duplicates", r.duplicates},
                    {"lag", r.lag},
                    {"events_per_second", seconds > 0 ? double(r.events) / seconds : 0.0}});
  }
}

void Rebuild::checkCancelled() const {
  if (cancelled_) throw RebuildError("cancelled");
}

void Rebuild::fail(const std::string& state, const std::string& error) {
  if (shadow_) {
    try {
      shadow_->discard();
    } catch (const std::exception& e) {
      log::write(log::Level::Warn, "rebuild: the shadow could not be removed",
                 json{{"rebuild", record_.id}, {"shadow", record_.shadow}, {"error", e.what()}});
    }
  }
  Record r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    record_.state = state;
    record_.error = error;
    record_.updatedAt = clock_.nowMs();
    r = record_;
  }
  try {
    auto tx = live_.begin();
    records::update(*tx, r);
    tx->commit();
  } catch (const std::exception&) {
    // the janitor marks it abandoned later
  }
  log::write(log::Level::Error, "rebuild " + state + "; the old read model serves on",
             json{{"rebuild", r.id}, {"component", r.component}, {"error", error}});
}

Record Rebuild::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return record_;
}

}  // namespace plexus::rebuild
