#include "dispatch/bus.hpp"

#include "dispatch/fault.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "observability/trace.hpp"
#include "plugin/uuid.hpp"
#include "store/envelope.hpp"
#include "store/outbox.hpp"

#include <algorithm>
#include <chrono>
#include <random>

namespace plexus::dispatch {
namespace {

using nlohmann::json;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

long long ll(int64_t v) { return static_cast<long long>(v); }

// Tracing: an "outbox publish {type}" producer span per published row, a child of the span that
// wrote it (the envelope's traceparent); its context travels as the AMQP traceparent header.
std::vector<trace::Span> publishSpans(std::vector<Outbound>& out) {
  std::vector<trace::Span> spans;
  spans.reserve(out.size());
  for (auto& o : out) {
    std::string parent;  // a dead letter carries the envelope of the message that failed
    const json env = json::parse(o.envelope, nullptr, false);
    if (env.is_object() && env.contains("traceparent") && env["traceparent"].is_string())
      parent = env["traceparent"].get<std::string>();
    trace::Span span =
        trace::startSpan("outbox publish " + o.type, trace::SpanKind::Producer, parent);
    if (span.recording()) {
      span.setAttribute("messaging.system", std::string("rabbitmq"));
      span.setAttribute("messaging.operation", std::string("publish"));
      span.setAttribute("messaging.message.id", o.id);
      span.setAttribute("messaging.message.type", o.type);
      span.setAttribute("plexus.message.kind", o.kind);
    }
    o.traceparent = span.traceparent();
    spans.push_back(std::move(span));
  }
  return spans;
}

// The copy of a consumed envelope stored for the local handlers continues from the consume span.
std::string withTraceparent(const std::string& envelope, const std::string& traceparent) {
  json env = json::parse(envelope, nullptr, false);
  if (!env.is_object() || traceparent.empty()) return envelope;
  env["traceparent"] = traceparent;
  return env.dump(-1, ' ', false, json::error_handler_t::replace);
}

int64_t define(Metrics& m, Metrics::Kind kind, const std::string& name, const std::string& help,
               const std::vector<std::string>& labels) {
  std::string error;
  const int64_t id = m.define(kind, name, help, labels, {}, error, true);
  if (id == 0) throw std::logic_error("host metric " + name + ": " + error);
  return id;
}

}  // namespace

struct Bus::Batch {
  struct Done {
    const Job* job;
    std::string type;
    plugin::Delivery delivery;
    bool duplicate;
    trace::Span span;    // the handler span, ended with the outcome after the commit
    trace::Span dbSpan;  // its share of the group transaction, ended at the commit
  };
  struct Failed {
    const Job* job;
    plexus_status status;
    std::string reason;
  };
  std::vector<Done> done;
  std::vector<Failed> failed;                        // recorded after the commit
  std::vector<std::pair<Failed, int64_t>> recorded;  // failures written in this transaction
};

Bus::Bus(plugin::Runtime& runtime, store::Store& store, Metrics& metrics, Options options)
    : runtime_(runtime), store_(store), metrics_(metrics), options_(options) {
  for (const auto& c : runtime_.components()) {
    if (c->kind == plugin::Kind::Route) continue;
    components_[c->id] = c.get();
    for (const auto& t : c->types) {
      // A receptor's types are the commands it owns, or events it reacts to; perspectives only
      // take events. The kind of a message is decided by how it was sent.
      if (c->kind == plugin::Kind::Receptor) {
        plugin::Component* owner = runtime_.receptorFor(t);
        if (owner != nullptr)
          commandHandlers_[t] = owner->id;  // none when several receptors list it
      }
      eventHandlers_[t].push_back(c->id);
    }
  }
  using K = Metrics::Kind;
  const std::vector<std::string> byHandler{"type", "handler"};
  handledMetric_ = define(metrics_, K::Counter, "plexus_messages_handled_total",
                          "Messages handled successfully.", byHandler);
  failedMetric_ = define(metrics_, K::Counter, "plexus_messages_failed_total",
                         "Handler attempts that failed.", byHandler);
  retriedMetric_ = define(metrics_, K::Counter, "plexus_messages_retried_total",
                          "Deliveries scheduled for another attempt.", byHandler);
  deadMetric_ = define(metrics_, K::Counter, "plexus_messages_dead_lettered_total",
                       "Messages moved to the dead letters.", byHandler);
  duplicateMetric_ = define(metrics_, K::Counter, "plexus_inbox_duplicates_total",
                            "Redelivered messages skipped by the inbox.", {"handler"});
  durationMetric_ = define(metrics_, K::Histogram, "plexus_handler_duration_seconds",
                           "Handler time per message, transaction included.", {"handler"});
  pendingMetric_ = define(metrics_, K::Gauge, "plexus_outbox_pending",
                          "Outbox rows due and not yet published.", {});
  ageMetric_ = define(metrics_, K::Gauge, "plexus_outbox_oldest_age_seconds",
                      "Age of the oldest due, unpublished outbox row.", {});
}

Bus::~Bus() { stop(); }

std::vector<std::string> Bus::handlersFor(const std::string& kind, const std::string& type) const {
  if (kind == "command") {
    auto it = commandHandlers_.find(type);
    return it == commandHandlers_.end() ? std::vector<std::string>{}
                                        : std::vector<std::string>{it->second};
  }
  auto it = eventHandlers_.find(type);
  return it == eventHandlers_.end() ? std::vector<std::string>{} : it->second;
}

void Bus::start() {
  relay_ = std::thread([this] { relayLoop(); });
  scheduler_ = std::thread([this] { schedulerLoop(); });
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { workerLoop(); });
}

void Bus::stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.clear();  // not started: they stay in the table for the next start
  }
  relayCv_.notify_all();
  schedulerCv_.notify_all();
  workerCv_.notify_all();
  if (relay_.joinable()) relay_.join();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();  // a running delivery finishes and commits
  }
  // Flush: publish what the last handlers committed (bounded; what is left waits in the outbox
  // for the next start or another replica).
  try {
    int64_t nextDue = 0;
    for (int i = 0; i < 10 && relayOnce(nextDue); ++i) {
    }
  } catch (const std::exception& e) {
    log::write(log::Level::Warn, "final outbox flush failed; rows stay for the next relay",
               json{{"error", e.what()}});
  }
}

// Published outbox rows and processed inbox rows older than the retention go; the inbox keeps
// dedupe keys long enough to cover any redelivery (default 7 days).
void Bus::purge() {
  const int64_t cutoff = nowMs() - options_.retentionMs;
  auto tx = store_.begin();
  const int64_t outbox =
      tx->exec("DELETE FROM plexus_outbox WHERE published_at IS NOT NULL AND published_at < $1",
               {ll(cutoff)});
  const int64_t inbox = tx->exec("DELETE FROM plexus_inbox WHERE processed_at < $1", {ll(cutoff)});
  tx->commit();
  if (outbox + inbox > 0) {
    log::write(log::Level::Info, "retention purge",
               json{{"outbox_rows", outbox}, {"inbox_rows", inbox}});
  }
}

void Bus::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    relayWake_ = true;
  }
  relayCv_.notify_one();
}

int64_t Bus::backoffMs(int64_t attempt) {
  thread_local std::mt19937 rng{std::random_device{}()};
  double ms = options_.retryInitialMs;
  for (int64_t i = 1; i < attempt && ms < options_.retryMaxMs; ++i) ms *= 2;
  ms = std::min<double>(ms, options_.retryMaxMs);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);  // spread retries of a burst
  return static_cast<int64_t>(ms * jitter(rng));
}

// ---- relay: outbox -> deliveries ----

bool Bus::relayOnce(int64_t& nextDueMs) {
  const int64_t now = nowMs();
  auto tx = store_.begin();
  if (store_.dialect() == store::Dialect::Postgres) {
    // One relay per deployment at a time: replicas publishing in parallel would reorder a
    // stream's messages. The lock goes with the transaction, so a dead relay frees it at once.
    // The relay's commit need not wait for the WAL flush: losing it in a crash only publishes
    // (or relays) those rows again, which the inbox dedupes; the next synchronous commit of
    // any transaction flushes it anyway.
    const Rows got = tx->query(
        "SELECT CASE WHEN pg_try_advisory_xact_lock(7391467, hashtext(current_schema())) THEN 1 "
        "ELSE 0 END, set_config('synchronous_commit', 'off', true)",
        {});
    if (got.empty() || got[0][0].asInt() != 1) {
      tx->commit();
      nextDueMs = 0;
      return false;
    }
  }
  const std::string lock =
      store_.dialect() == store::Dialect::Postgres ? " FOR UPDATE SKIP LOCKED" : "";
  const Rows rows = tx->query(
      "SELECT seq, message_id, kind, type, stream_id, envelope FROM plexus_outbox WHERE "
      "published_at IS NULL AND "
      "deliver_at <= $1 ORDER BY seq LIMIT $2" +
          lock,
      {ll(now), options_.batch});
  if (publisher_ != nullptr && !rows.empty()) {
    // Rows stay locked (SKIP LOCKED for other replicas) until the broker confirmed them; if this
    // instance dies meanwhile, the transaction aborts and another relay takes the rows.
    std::vector<Outbound> out;
    out.reserve(rows.size());
    for (const Row& r : rows) {
      out.push_back(
          Outbound{r[1].asText(), r[2].asText(), r[3].asText(), r[4].asText(), r[5].asText(), {}});
    }
    std::vector<trace::Span> spans = publishSpans(out);
    try {
      publisher_->publish(out);
    } catch (const std::exception& e) {
      for (auto& span : spans) span.setStatus(trace::StatusCode::Error, e.what());
      throw;
    }
    spans.clear();  // ends them: confirmed by the broker
    fault::reach(fault::Point::AfterPublishBeforeMark);
    // One statement for the whole batch instead of a round trip per row.
    std::string sql = "UPDATE plexus_outbox SET published_at = $1 WHERE seq IN (";
    std::vector<Value> params{ll(now)};
    for (size_t i = 0; i < rows.size(); ++i) {
      sql += (i == 0 ? "$" : ", $") + std::to_string(i + 2);
      params.emplace_back(rows[i][0].asInt());
    }
    tx->exec(sql + ")", params);
  }
  for (const Row& r : publisher_ != nullptr ? Rows{} : rows) {
    const std::string id = r[1].asText(), kind = r[2].asText(), type = r[3].asText(),
                      stream = r[4].asText(), envelope = r[5].asText();
    if (kind == "dead-letter") {  // only meaningful with a broker (its DLQ)
      tx->exec("UPDATE plexus_outbox SET published_at = $1 WHERE seq = $2",
               {ll(now), r[0].asInt()});
      continue;
    }
    const auto handlers = handlersFor(kind, type);
    if (handlers.empty() && kind == "command") {
      Job job{0, id, "-", stream, envelope, 0, now};
      deadLetter(*tx, job, type, "no handler for command " + type + " in this host");
    }
    for (const auto& h : handlers) {
      tx->exec(
          "INSERT INTO plexus_deliveries (message_id, handler, stream_id, envelope, attempt, "
          "due_at) VALUES ($1, $2, "
          "$3, $4, 1, $5) ON CONFLICT DO NOTHING",
          {id, h, stream, envelope, ll(now)});
    }
    tx->exec("UPDATE plexus_outbox SET published_at = $1 WHERE seq = $2", {ll(now), r[0].asInt()});
  }
  const Rows next =
      tx->query("SELECT MIN(deliver_at) FROM plexus_outbox WHERE published_at IS NULL", {});
  nextDueMs = (!next.empty() && !next[0][0].isNull()) ? next[0][0].asInt() : 0;
  tx->commit();
  if (!rows.empty()) {
    {
      std::lock_guard<std::mutex> l(mu_);
      schedulerWake_ = true;
    }
    schedulerCv_.notify_one();
  }
  return static_cast<int>(rows.size()) == options_.batch;
}

void Bus::relayLoop() {
  int failures = 0;
  auto nextHousekeeping = std::chrono::steady_clock::now();
  auto nextPurge = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!stopping_) {
    int64_t nextDue = 0;
    bool more = false;
    try {
      more = relayOnce(nextDue);
      failures = 0;
      const auto now = std::chrono::steady_clock::now();
      if (now >= nextHousekeeping) {  // keep the outbox gauges current for /metrics
        nextHousekeeping = now + std::chrono::seconds(5);
        outboxPending();
        outboxOldestAgeMs();
      }
      if (now >= nextPurge) {
        nextPurge = now + std::chrono::minutes(10);
        purge();
      }
    } catch (const std::exception& e) {
      ++failures;
      log::write(log::Level::Warn, "outbox relay failed; retrying",
                 json{{"error", e.what()}, {"failures", failures}});
    }
    if (more) continue;
    int64_t waitMs = options_.pollIntervalMs;
    if (failures > 0) waitMs = std::min<int64_t>(int64_t{100} << std::min(failures, 6), 5000);
    if (nextDue > 0) waitMs = std::max<int64_t>(1, std::min(waitMs, nextDue - nowMs()));
    std::unique_lock<std::mutex> lock(mu_);
    relayCv_.wait_for(lock, std::chrono::milliseconds(waitMs),
                      [&] { return relayWake_ || stopping_; });
    relayWake_ = false;
  }
}

bool Bus::accept(const std::string& received, std::string& error, const std::string& traceparent) {
  std::vector<std::string> errors;
  const bool ok = acceptBatch({received}, {traceparent}, errors).front();
  if (!ok) error = errors.front();
  return ok;
}

struct Bus::Consumed {
  store::Envelope env;  // its traceparent: the consume span's
  std::string text;     // the envelope as stored for a worker (same traceparent)
  std::vector<std::string> handlers;
};

namespace {
// ON CONFLICT: a broker redelivery of a message not yet handled is the same delivery.
const std::string kStoreDelivery =
    "INSERT INTO plexus_deliveries (message_id, handler, stream_id, envelope, attempt, due_at) "
    "VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT DO NOTHING";
std::vector<Value> deliveryRow(const store::Envelope& env, const std::string& text,
                               const std::string& handler, int64_t now) {
  return {env.id, handler, env.stream, text, ll(now)};
}
constexpr int kWaitingScan = 1000;  // stored deliveries read at once per consumed batch
}  // namespace

std::vector<Value> Bus::deliveryRow(const Consumed& c, const std::string& handler, int64_t now) {
  return plexus::dispatch::deliveryRow(c.env, c.text, handler, now);
}

// The optimistic attempt at a consumed batch: no savepoints, one read for what waits and what
// the inbox already holds, and the host's own writes (events, outbox, inbox, stored deliveries)
// sent with the next round trip. Handlers almost always succeed, so this is the common path; the
// first failure of any kind rolls the attempt back (nothing of it is kept or reported) and the
// caller runs the batch the careful way, a savepoint per message. True when committed.
bool Bus::runOptimistic(const std::vector<Consumed>& items, size_t total, bool& stored) {
  const auto started = std::chrono::steady_clock::now();
  Batch batch;
  std::vector<Job> jobs;
  jobs.reserve(total);  // batch entries keep pointers to them
  auto abandon = [&](const std::string& why) {
    for (auto& x : batch.done) {
      if (x.duplicate) continue;
      x.dbSpan.setAttribute("db.rolled_back", true);
      x.dbSpan.end();
      x.span.setAttribute("plexus.outcome", std::string("rerun: ") + why);
      plugin::runAfterCommit(x.delivery.afterCommit, false);
    }
  };
  bool committing = false;
  try {
    auto tx = store_.begin();
    std::string sql =
        "SELECT 0, stream_id, handler FROM (SELECT stream_id, handler FROM plexus_deliveries "
        "LIMIT $1) w UNION ALL SELECT 1, message_id, handler FROM plexus_inbox WHERE message_id "
        "IN (";
    std::vector<Value> params{kWaitingScan + 1};
    for (const Consumed& c : items) {
      sql += (params.size() == 1 ? "$" : ", $") + std::to_string(params.size() + 1);
      params.emplace_back(c.env.id);
    }
    std::set<std::pair<std::string, std::string>> held, handled;
    for (const Row& r : tx->query(sql + ")", params)) {
      (r[0].asInt() == 0 ? held : handled).insert({r[1].asText(), r[2].asText()});
    }
    if (held.size() > static_cast<size_t>(kWaitingScan)) return false;  // a backlog: careful way
    for (const Consumed& c : items) {
      for (const std::string& h : c.handlers) {
        const int64_t now = nowMs();
        const auto key = std::make_pair(c.env.stream, h);
        if (held.count(key) > 0) {  // a stored delivery of this stream comes first
          tx->defer(kStoreDelivery, deliveryRow(c, h, now));
          stored = true;
          continue;
        }
        auto it = components_.find(h);
        if (it == components_.end()) {  // the careful way dead-letters it
          abandon("a handler is not loaded");
          return false;
        }
        jobs.push_back(Job{0, c.env.id, h, c.env.stream, c.text, 1, 0, false});
        if (handled.count({c.env.id, h}) > 0) {
          trace::Span span = plugin::startHandlerSpan(*it->second, c.env);
          span.setAttribute("plexus.outcome", std::string("duplicate"));
          batch.done.push_back(
              Batch::Done{&jobs.back(), c.env.type, {}, true, std::move(span), {}});
          continue;
        }
        trace::Span span = plugin::startHandlerSpan(*it->second, c.env);
        trace::Span dbSpan;
        plugin::Delivery d;
        {
          trace::Scope spanScope(span);
          dbSpan = plugin::startTransactionSpan(store_);
          dbSpan.setAttribute("db.group_commit.size", static_cast<int64_t>(total));
          d = runtime_.deliver(*it->second, c.env, tx.get());
        }
        if (d.status != PLEXUS_OK) {
          dbSpan.setAttribute("db.rolled_back", true);
          span.setAttribute("plexus.outcome", std::string("rerun: handler failed"));
          plugin::runAfterCommit(d.afterCommit, false);
          abandon("a handler of the batch failed");
          return false;
        }
        store::appendOutgoing(*tx, d.outgoing, now, true);
        tx->defer(
            "INSERT INTO plexus_inbox (message_id, handler, processed_at) VALUES ($1, $2, $3)",
            {c.env.id, h, ll(now)});
        batch.done.push_back(Batch::Done{&jobs.back(), c.env.type, std::move(d), false,
                                         std::move(span), std::move(dbSpan)});
      }
    }
    committing = true;
    commitBatch(std::move(tx), batch, started, jobs.size(), true);
    return true;
  } catch (const store::SqlError& e) {
    if (!committing) abandon(e.what());  // a failed commit: commitBatch ended them already
    return false;
  }
}

// A consumed batch runs in ONE transaction: each (message, handler) whose stream has no stored
// delivery waiting runs at once under its own savepoint (inbox, handler, outbox: one commit and no
// scheduler hop between the broker and the handler); the others, and every later message of a
// stream that fails here, are stored as deliveries for the workers, in order behind what waits.
// Committed before the caller acks. If the commit fails, the whole batch is stored instead.
std::vector<bool> Bus::acceptBatch(const std::vector<std::string>& received,
                                   const std::vector<std::string>& traceparents,
                                   std::vector<std::string>& errors) {
  std::vector<bool> ok(received.size(), false);
  errors.assign(received.size(), "");
  using Item = Consumed;
  std::vector<Item> items;
  std::vector<trace::Span> spans;  // ended once the batch is committed
  size_t total = 0;
  for (size_t i = 0; i < received.size(); ++i) {
    auto env = store::decode(received[i], errors[i]);
    if (!env) continue;
    ok[i] = true;
    const std::string kind = env->kind.empty() ? "event" : env->kind;
    auto handlers = handlersFor(kind, env->type);
    const std::string traceparent = i < traceparents.size() ? traceparents[i] : std::string();
    trace::Span span = trace::startSpan("consume " + env->type, trace::SpanKind::Consumer,
                                        traceparent.empty() ? env->traceparent : traceparent);
    span.setAttribute("messaging.system", std::string("rabbitmq"));
    span.setAttribute("messaging.operation", std::string("receive"));
    span.setAttribute("messaging.message.id", env->id);
    span.setAttribute("messaging.message.type", env->type);
    span.setAttribute("plexus.handlers", static_cast<int64_t>(handlers.size()));
    std::string text = withTraceparent(received[i], span.traceparent());
    if (!span.traceparent().empty()) env->traceparent = span.traceparent();
    spans.push_back(std::move(span));
    if (handlers.empty()) continue;
    total += handlers.size();
    items.push_back(Item{std::move(*env), std::move(text), std::move(handlers)});
  }
  if (items.empty()) return ok;

  auto storeDelivery = [](store::Transaction& tx, const Item& item, const std::string& handler,
                          int64_t now) {
    tx.exec(kStoreDelivery, deliveryRow(item, handler, now));
  };
  bool stored = false;
  if (runOptimistic(items, total, stored)) {
    if (stored) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        schedulerWake_ = true;
      }
      schedulerCv_.notify_one();
    }
    return ok;
  }
  stored = false;
  try {
    const auto started = std::chrono::steady_clock::now();
    auto tx = store_.begin();
    Batch batch;
    std::vector<Job> jobs;
    jobs.reserve(total);                                 // runOne keeps pointers to them
    std::set<std::pair<std::string, std::string>> held;  // (stream, handler) that must wait
    // What waits is usually little or nothing: one read for the batch; a long backlog is
    // checked per message instead.
    const Rows waiting =
        tx->query("SELECT stream_id, handler FROM plexus_deliveries LIMIT $1", {kWaitingScan + 1});
    const bool scanned = waiting.size() <= static_cast<size_t>(kWaitingScan);
    if (scanned) {
      for (const Row& r : waiting) held.insert({r[0].asText(), r[1].asText()});
    }
    for (const Item& item : items) {
      for (const std::string& h : item.handlers) {
        const int64_t now = nowMs();
        const auto key = std::make_pair(item.env.stream, h);
        if (!scanned && held.count(key) == 0 &&
            !tx->query("SELECT 1 FROM plexus_deliveries WHERE stream_id = $1 AND handler = $2 "
                       "LIMIT 1",
                       {item.env.stream, h})
                 .empty()) {
          held.insert(key);  // a stored delivery of this stream comes first
        }
        if (held.count(key) > 0) {
          storeDelivery(*tx, item, h, now);
          stored = true;
          continue;
        }
        jobs.push_back(Job{0, item.env.id, h, item.env.stream, item.text, 1, 0, false});
        if (runOne(*tx, jobs.back(), &item.env, total, batch)) held.insert(key);
      }
    }
    commitBatch(std::move(tx), batch, started, jobs.size(), true);
  } catch (const store::SqlError& e) {
    // The batch did not commit (or the store failed): store every delivery in a fresh
    // transaction instead; the workers run them. If that fails too, the caller requeues.
    log::write(log::Level::Warn, "consumed batch could not run directly; storing it",
               json{{"messages", items.size()}, {"error", e.what()}});
    auto tx = store_.begin();
    const int64_t now = nowMs();
    for (const Item& item : items)
      for (const std::string& h : item.handlers) storeDelivery(*tx, item, h, now);
    tx->commit();
    stored = true;
  }
  if (stored) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      schedulerWake_ = true;
    }
    schedulerCv_.notify_one();
  }
  return ok;
}

// ---- scheduler: due deliveries -> workers, one per (stream, handler) ----

void Bus::schedulerLoop() {
  int failures = 0;
  while (!stopping_) {
    int64_t nextDue = 0;
    try {
      const int64_t now = nowMs();
      Rows rows;
      {
        auto tx = store_.begin();
        rows = tx->query(
            "SELECT seq, message_id, handler, stream_id, envelope, attempt, due_at, "
            "first_failed_at, claimed_by, "
            "claimed_until FROM plexus_deliveries ORDER BY seq LIMIT $1",
            {options_.batch * 5});
        tx->commit();
      }
      failures = 0;
      std::set<std::pair<std::string, std::string>> seen;
      std::lock_guard<std::mutex> lock(mu_);
      std::set<int64_t> queued;
      for (const Job& j : queue_) queued.insert(j.seq);
      for (const Row& r : rows) {
        Job job{r[0].asInt(),
                r[1].asText(),
                r[2].asText(),
                r[3].asText(),
                r[4].asText(),
                r[5].asInt(),
                r[7].isNull() ? 0 : r[7].asInt()};
        const auto key = std::make_pair(job.stream, job.handler);
        if (!seen.insert(key).second) continue;  // only the oldest of a stream may run
        const int64_t due = r[6].asInt();
        if (due > now) {
          if (nextDue == 0 || due < nextDue) nextDue = due;
          continue;  // a retry waiting for its backoff holds its stream
        }
        if (busy_.count(key) > 0 || queued.count(job.seq) > 0) continue;
        const bool foreignClaim = !r[8].isNull() && r[8].asText() != options_.instance &&
                                  !r[9].isNull() && r[9].asInt() > now;
        if (foreignClaim) continue;  // another replica is handling this stream's head
        busy_.insert(key);
        queue_.push_back(std::move(job));
      }
    } catch (const std::exception& e) {
      ++failures;
      log::write(log::Level::Warn, "delivery scheduler failed; retrying",
                 json{{"error", e.what()}});
    }
    workerCv_.notify_all();
    int64_t waitMs = options_.pollIntervalMs;
    if (failures > 0) waitMs = std::min<int64_t>(int64_t{100} << std::min(failures, 6), 5000);
    if (nextDue > 0) waitMs = std::max<int64_t>(1, std::min(waitMs, nextDue - nowMs()));
    std::unique_lock<std::mutex> lock(mu_);
    schedulerCv_.wait_for(lock, std::chrono::milliseconds(waitMs),
                          [&] { return schedulerWake_ || stopping_.load(); });
    schedulerWake_ = false;
  }
}

void Bus::workerLoop() {
  for (;;) {
    std::vector<Job> jobs;
    {
      std::unique_lock<std::mutex> lock(mu_);
      workerCv_.wait(lock, [&] { return stopping_.load() || !queue_.empty(); });
      if (stopping_ && queue_.empty()) return;
      // Take a share of what is queued (the other workers get the rest), up to runBatch.
      const size_t share =
          std::max<size_t>(1, (queue_.size() + static_cast<size_t>(options_.workers) - 1) /
                                  static_cast<size_t>(options_.workers));
      const size_t n = std::min({queue_.size(), share, static_cast<size_t>(options_.runBatch)});
      for (size_t i = 0; i < n; ++i) {
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++running_;
    }
    try {
      runAll(jobs);
    } catch (const std::exception& e) {
      // The store failed around the handlers: the delivery rows are still there; they run again.
      log::write(log::Level::Warn, "deliveries could not be recorded; they will run again",
                 json{{"deliveries", jobs.size()}, {"error", e.what()}});
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const Job& job : jobs) busy_.erase({job.stream, job.handler});
      --running_;
      schedulerWake_ = true;
    }
    schedulerCv_.notify_one();
  }
}

// Group commit: the deliveries a worker took run in ONE transaction, each under its own savepoint
// (a failing handler undoes only its own effects and records its retry or dead letter), and one
// commit covers them all. The claim is taken inside the same transaction: its row lock keeps
// another replica off the delivery until the commit, after which the row is gone (or, after a
// failure, carries its backoff). Rows are claimed in seq order, one lock order for every batch.
void Bus::runAll(std::vector<Job>& jobs) {
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.seq < b.seq; });
  const auto started = std::chrono::steady_clock::now();
  Batch batch;
  // No batch-wide span: the batch mixes traces. Each handler gets its own db.transaction child
  // (its savepoint), ended when the shared commit ends, so every trace shows its own transaction.
  auto tx = store_.begin();
  for (const Job& job : jobs) runOne(*tx, job, nullptr, jobs.size(), batch);
  commitBatch(std::move(tx), batch, started, jobs.size(), false);
}

bool Bus::runOne(store::Transaction& tx, const Job& job, const store::Envelope* decoded,
                 size_t batchSize, Batch& batch) {
  const int64_t now = nowMs();
  tx.savepoint("plexus_delivery");
  plugin::Delivery d;
  std::string type = "?";
  try {
    // A job read before its previous attempt's failure was recorded is stale (older attempt,
    // backoff not yet due): it must not run.
    if (job.stored &&
        tx.exec("UPDATE plexus_deliveries SET claimed_by = $1, claimed_until = $2 WHERE seq = "
                "$3 AND attempt = $5 AND due_at <= $4 AND (claimed_by IS NULL OR "
                "claimed_by = $1 OR claimed_until < $4)",
                {options_.instance, ll(now + options_.leaseMs), ll(job.seq), ll(now),
                 ll(job.attempt)}) != 1) {
      tx.rollbackTo("plexus_delivery");  // handled, or held by another replica
      tx.release("plexus_delivery");
      return false;
    }
    std::string error;
    std::optional<store::Envelope> env;
    if (decoded != nullptr) {
      env = *decoded;
    } else {
      env = store::decode(job.envelope, error);
    }
    auto it = components_.find(job.handler);
    if (!env || it == components_.end()) {
      deadLetter(
          tx, job, env ? env->type : "?",
          env ? "handler " + job.handler + " is not loaded" : "undecodable envelope: " + error);
      if (job.stored) tx.exec("DELETE FROM plexus_deliveries WHERE seq = $1", {ll(job.seq)});
      tx.release("plexus_delivery");
      return false;
    }
    env->attempt = static_cast<uint32_t>(job.attempt);
    type = env->type;
    if (!tx.query("SELECT 1 FROM plexus_inbox WHERE message_id = $1 AND handler = $2",
                  {job.messageId, job.handler})
             .empty()) {
      if (job.stored) tx.exec("DELETE FROM plexus_deliveries WHERE seq = $1", {ll(job.seq)});
      tx.release("plexus_delivery");
      trace::Span span = plugin::startHandlerSpan(*it->second, *env);
      span.setAttribute("plexus.outcome", std::string("duplicate"));
      batch.done.push_back(Batch::Done{&job, type, {}, true, std::move(span), {}});
      return false;
    }
    trace::Span span = plugin::startHandlerSpan(*it->second, *env);
    trace::Span dbSpan;
    {
      trace::Scope spanScope(span);
      dbSpan = plugin::startTransactionSpan(store_);
      dbSpan.setAttribute("db.group_commit.size", static_cast<int64_t>(batchSize));
      // Not made current: what the handler sends and logs continues from the handler span.
      d = runtime_.deliver(*it->second, *env, &tx);
    }
    if (d.status == PLEXUS_OK) {
      store::appendOutgoing(tx, d.outgoing, now);
      tx.exec("INSERT INTO plexus_inbox (message_id, handler, processed_at) VALUES ($1, $2, $3)",
              {job.messageId, job.handler, ll(now)});
      if (job.stored) tx.exec("DELETE FROM plexus_deliveries WHERE seq = $1", {ll(job.seq)});
      tx.release("plexus_delivery");
      batch.done.push_back(
          Batch::Done{&job, type, std::move(d), false, std::move(span), std::move(dbSpan)});
      return false;
    }
    plugin::setOutcome(span, d.status, d.reason);
    dbSpan.setAttribute("db.rolled_back", true);
    dbSpan.end();
    tx.rollbackTo("plexus_delivery");  // everything the handler did
    metrics_.update(failedMetric_, {type, job.handler}, 1);
    plugin::runAfterCommit(d.afterCommit, false);
    Batch::Failed f{&job, d.status, d.reason};
    const int64_t delay = recordFailure(tx, job, type, f.status, f.reason);
    batch.recorded.emplace_back(f, delay);
    tx.release("plexus_delivery");
    return delay >= 0;
  } catch (const store::SqlError& e) {
    // A statement of this delivery failed (a conflict, a constraint): undo it alone. When the
    // connection itself is gone, rollbackTo throws and the whole batch runs again later.
    tx.rollbackTo("plexus_delivery");
    plugin::runAfterCommit(d.afterCommit, false);
    Batch::Failed f{&job, e.transient() ? PLEXUS_RETRY : PLEXUS_REJECT,
                    std::string("commit failed: ") + e.what()};
    if (job.stored) {
      tx.release("plexus_delivery");
      batch.failed.push_back(f);
      return false;  // recorded after the commit; its row holds the stream meanwhile
    }
    // Straight from the broker: recorded now, so that a later message of the same stream in this
    // batch sees the stored retry and waits behind it.
    const int64_t delay = recordFailure(tx, job, type, f.status, f.reason);
    batch.recorded.emplace_back(f, delay);
    tx.release("plexus_delivery");
    return delay >= 0;
  }
}

void Bus::commitBatch(std::unique_ptr<store::Transaction> tx, Batch& batch,
                      std::chrono::steady_clock::time_point started, size_t jobs, bool rethrow) {
  try {
    fault::reach(fault::Point::BeforeCommit);
    tx->commit();
    tx.reset();  // free the connection before after-commit work (it may open its own)
    for (auto& x : batch.done) x.dbSpan.end();
  } catch (const store::SqlError& e) {
    tx.reset();
    for (auto& x : batch.done) {
      if (x.duplicate) continue;
      x.dbSpan.setStatus(trace::StatusCode::Error, e.what());
      x.dbSpan.setAttribute("db.rolled_back", true);
      x.dbSpan.end();
      plugin::setOutcome(x.span, e.transient() ? PLEXUS_RETRY : PLEXUS_REJECT, e.what());
      plugin::runAfterCommit(x.delivery.afterCommit, false);
      batch.failed.push_back(Batch::Failed{x.job, e.transient() ? PLEXUS_RETRY : PLEXUS_REJECT,
                                           std::string("commit failed: ") + e.what()});
    }
    if (rethrow) throw;  // nothing of it was committed: the caller stores the messages instead
    for (auto& r : batch.recorded) batch.failed.push_back(r.first);
    for (const auto& f : batch.failed) fail(*f.job, f.status, f.reason);
    return;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() /
      static_cast<double>(std::max<size_t>(1, jobs));
  bool outgoing = false;
  for (auto& x : batch.done) {
    if (x.duplicate) {
      metrics_.update(duplicateMetric_, {x.job->handler}, 1);
      continue;
    }
    plugin::setOutcome(x.span, PLEXUS_OK, "");
    plugin::runAfterCommit(x.delivery.afterCommit, true);
    metrics_.update(handledMetric_, {x.type, x.job->handler}, 1);
    metrics_.update(durationMetric_, {x.job->handler}, seconds);
    outgoing = outgoing || !x.delivery.outgoing.empty();
  }
  for (const auto& r : batch.recorded)
    reportFailure(*r.first.job, r.first.status, r.first.reason, r.second);
  for (const auto& f : batch.failed) fail(*f.job, f.status, f.reason);
  if (outgoing || !batch.recorded.empty()) wake();
}

void Bus::fail(const Job& job, plexus_status status, const std::string& reason) {
  std::string error;
  auto env = store::decode(job.envelope, error);
  auto tx = store_.begin();
  const int64_t delay = recordFailure(*tx, job, env ? env->type : "?", status, reason);
  tx->commit();
  reportFailure(job, status, reason, delay);
}

// Writes the outcome of a failed attempt: a dead letter (returns -1) or the next attempt's due time
// (returns the backoff in ms).
int64_t Bus::recordFailure(store::Transaction& tx, const Job& job, const std::string& type,
                           plexus_status status, const std::string& reason) {
  const int64_t now = nowMs();
  if (status == PLEXUS_REJECT || job.attempt >= options_.maxAttempts) {
    deadLetter(tx, job, type,
               status == PLEXUS_REJECT
                   ? reason
                   : "gave up after " + std::to_string(job.attempt) + " attempts: " + reason);
    if (job.stored) tx.exec("DELETE FROM plexus_deliveries WHERE seq = $1", {ll(job.seq)});
    return -1;
  }
  const int64_t delay = backoffMs(job.attempt);
  if (!job.stored) {  // first attempt ran straight from the broker: the retry is stored now
    tx.exec(
        "INSERT INTO plexus_deliveries (message_id, handler, stream_id, envelope, attempt, "
        "due_at, last_error, first_failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT DO NOTHING",
        {job.messageId, job.handler, job.stream, job.envelope, ll(job.attempt + 1), ll(now + delay),
         reason, ll(now)});
    return delay;
  }
  tx.exec(
      "UPDATE plexus_deliveries SET attempt = attempt + 1, due_at = $1, last_error = $2, "
      "first_failed_at = "
      "COALESCE(first_failed_at, $3), claimed_by = NULL, claimed_until = NULL WHERE seq = $4",
      {ll(now + delay), reason, ll(now), ll(job.seq)});
  return delay;
}

void Bus::reportFailure(const Job& job, plexus_status status, const std::string& reason,
                        int64_t delay) {
  std::string error;
  auto env = store::decode(job.envelope, error);
  const std::string type = env ? env->type : "?";
  if (delay < 0) {
    metrics_.update(deadMetric_, {type, job.handler}, 1);
    log::write(log::Level::Warn, "message dead-lettered",
               json{{"message_id", job.messageId},
                    {"handler", job.handler},
                    {"type", type},
                    {"attempts", job.attempt},
                    {"reason", reason}});
    return;
  }
  (void)status;
  metrics_.update(retriedMetric_, {type, job.handler}, 1);
  log::write(log::Level::Info, "message will be retried",
             json{{"message_id", job.messageId},
                  {"handler", job.handler},
                  {"attempt", job.attempt},
                  {"retry_in_ms", delay},
                  {"reason", reason}});
}

void Bus::deadLetter(store::Transaction& tx, const Job& job, const std::string& type,
                     const std::string& reason) {
  const int64_t now = nowMs();
  tx.exec(
      "INSERT INTO plexus_dead_letters (id, message_id, handler, type, stream_id, envelope, "
      "reason, attempts, "
      "first_failed_at, last_failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      {newUuidV7(), job.messageId, job.handler, type, job.stream, job.envelope, reason,
       ll(job.attempt), ll(job.firstFailedAt > 0 ? job.firstFailedAt : now), ll(now)});
  if (publisher_ != nullptr) {
    // Also to the broker's dead-letter queue of this deployment, through the outbox.
    tx.exec(
        "INSERT INTO plexus_outbox (message_id, kind, type, stream_id, envelope, deliver_at, "
        "created_at) VALUES ($1, "
        "'dead-letter', $2, $3, $4, $5, $5)",
        {newUuidV7(), type, job.stream, job.envelope, ll(now)});
  }
}

// ---- admin ----

json Bus::deadLetters(int limit) {
  auto tx = store_.begin();
  const Rows rows = tx->query(
      "SELECT id, message_id, handler, type, stream_id, reason, attempts, first_failed_at, "
      "last_failed_at, envelope "
      "FROM plexus_dead_letters ORDER BY last_failed_at DESC, id LIMIT $1",
      {limit});
  tx->commit();
  json out = json::array();
  for (const Row& r : rows) {
    json env = json::parse(r[9].asText(), nullptr, false);
    out.push_back(json{{"id", r[0].asText()},
                       {"messageId", r[1].asText()},
                       {"handler", r[2].asText()},
                       {"type", r[3].asText()},
                       {"stream", r[4].asText()},
                       {"reason", r[5].asText()},
                       {"attempts", r[6].asInt()},
                       {"firstFailedAt", store::rfc3339(r[7].asInt())},
                       {"lastFailedAt", store::rfc3339(r[8].asInt())},
                       {"envelope", env.is_discarded() ? json(nullptr) : env}});
  }
  return out;
}

bool Bus::retryDeadLetter(const std::string& id) {
  auto tx = store_.begin();
  const Rows rows = tx->query(
      "SELECT message_id, handler, stream_id, envelope FROM plexus_dead_letters WHERE id = $1",
      {id});
  if (rows.empty() || rows[0][1].asText() == "-") {
    tx->rollback();
    return false;
  }
  const Row& r = rows[0];
  // The replay starts a fresh attempt count; the inbox still dedupes if it was handled meanwhile.
  tx->exec(
      "INSERT INTO plexus_deliveries (message_id, handler, stream_id, envelope, attempt, due_at) "
      "VALUES ($1, $2, $3, "
      "$4, 1, $5) ON CONFLICT DO NOTHING",
      {r[0].asText(), r[1].asText(), r[2].asText(), r[3].asText(), ll(nowMs())});
  tx->exec("DELETE FROM plexus_dead_letters WHERE id = $1", {id});
  tx->commit();
  {
    std::lock_guard<std::mutex> lock(mu_);
    schedulerWake_ = true;
  }
  schedulerCv_.notify_one();
  return true;
}

bool Bus::discardDeadLetter(const std::string& id) {
  auto tx = store_.begin();
  const int64_t n = tx->exec("DELETE FROM plexus_dead_letters WHERE id = $1", {id});
  tx->commit();
  return n > 0;
}

int64_t Bus::outboxPending() {
  auto tx = store_.begin();
  const Rows r = tx->query(
      "SELECT COUNT(*) FROM plexus_outbox WHERE published_at IS NULL AND deliver_at <= $1",
      {ll(nowMs())});
  tx->commit();
  const int64_t n = r.empty() ? 0 : r[0][0].asInt();
  metrics_.update(pendingMetric_, {}, static_cast<double>(n));
  return n;
}

int64_t Bus::outboxOldestAgeMs() {
  const int64_t now = nowMs();
  auto tx = store_.begin();
  const Rows r = tx->query(
      "SELECT MIN(deliver_at) FROM plexus_outbox WHERE published_at IS NULL AND deliver_at <= $1",
      {ll(now)});
  tx->commit();
  const int64_t age = (r.empty() || r[0][0].isNull()) ? 0 : now - r[0][0].asInt();
  metrics_.update(ageMetric_, {}, static_cast<double>(age) / 1000.0);
  return age;
}

}  // namespace plexus::dispatch
