#include "dispatch/relay.hpp"

#include "base/clock.hpp"
#include "base/fault.hpp"
#include "dispatch/intake.hpp"
#include "dispatch/outbox_monitor.hpp"
#include "dispatch/retention.hpp"
#include "observability/log.hpp"
#include "observability/trace.hpp"
#include "store/outbox.hpp"
#include "transport_api/transport.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace plexus::dispatch {
namespace {

using nlohmann::json;

// Tracing: an "outbox publish {type}" producer span per published row, a child of the span that
// wrote it; its context travels with the message (the transport's traceparent header).
std::vector<trace::Span> publishSpans(std::vector<Message>& out) {
  std::vector<trace::Span> spans;
  spans.reserve(out.size());
  for (auto& m : out) {
    trace::Span span =
        trace::startSpan("outbox publish " + m.type, trace::SpanKind::Producer, m.traceparent);
    if (span.recording()) {
      span.setAttribute("messaging.system", std::string("rabbitmq"));
      span.setAttribute("messaging.operation", std::string("publish"));
      span.setAttribute("messaging.message.id", m.id);
      span.setAttribute("messaging.message.type", m.type);
      span.setAttribute("plexus.message.kind", m.kind);
    }
    if (!span.traceparent().empty()) m.traceparent = span.traceparent();
    spans.push_back(std::move(span));
  }
  return spans;
}

}  // namespace

Relay::Relay(store::Store& store, const Clock& clock, RelayOptions options,
             transport::Transport* transport, Intake& intake, OutboxMonitor& monitor,
             Retention& retention)
    : store_(store),
      clock_(clock),
      options_(options),
      transport_(transport),
      intake_(intake),
      monitor_(monitor),
      retention_(retention) {}

Relay::~Relay() { stop(); }

void Relay::start() {
  thread_ = std::thread([this] { loop(); });
}

void Relay::stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (!thread_.joinable()) return;  // never started: nothing of ours to flush
  thread_.join();
  try {
    int64_t nextDue = 0;
    for (int i = 0; i < 10 && relayOnce(nextDue); ++i) {
    }
  } catch (const std::exception& e) {
    log::write(log::Level::Warn, "final outbox flush failed; rows stay for the next relay",
               json{{"error", e.what()}});
  }
}

void Relay::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wakeUp_ = true;
  }
  cv_.notify_one();
}

bool Relay::relayOnce(int64_t& nextDueMs) {
  return transport_ != nullptr ? publishOnce(nextDueMs) : deliverOnce(nextDueMs);
}

// Rows stay locked (skipped by other replicas) until the broker confirmed them; if this instance
// dies meanwhile, the transaction aborts and another relay takes the rows.
bool Relay::publishOnce(int64_t& nextDueMs) {
  const int64_t now = clock_.nowMs();
  auto tx = store_.begin();
  if (!store_.dialect().beginRelay(*tx, true)) {
    tx->commit();
    nextDueMs = 0;
    return false;
  }
  const auto rows = store::outbox::claimDue(*tx, store_.dialect(), now, options_.batch);
  if (!rows.empty()) {
    std::vector<Message> out;
    std::vector<int64_t> seqs;
    out.reserve(rows.size());
    for (const auto& r : rows) {
      out.push_back(r.message);
      seqs.push_back(r.seq);
    }
    std::vector<trace::Span> spans = publishSpans(out);
    try {
      transport_->publish(out);
    } catch (const std::exception& e) {
      for (auto& span : spans) span.setStatus(trace::StatusCode::Error, e.what());
      throw;
    }
    spans.clear();  // ends them: confirmed by the broker
    fault::reach(fault::Point::AfterPublishBeforeMark);
    if (options_.keepPublished) store::outbox::archive(*tx, seqs, now);
    store::outbox::remove(*tx, seqs);
  }
  nextDueMs = store::outbox::nextDueAt(*tx);
  tx->commit();
  return static_cast<int>(rows.size()) == options_.batch;
}

// No broker: the rows' handlers run in this transaction, which also marks the rows; one commit
// for both, and the commit is durable (handlers' effects ride on it).
bool Relay::deliverOnce(int64_t& nextDueMs) {
  const int64_t now = clock_.nowMs();
  auto tx = store_.begin();
  if (!store_.dialect().beginRelay(*tx, false)) {
    tx->commit();
    nextDueMs = 0;
    return false;
  }
  const auto rows = store::outbox::claimDue(*tx, store_.dialect(), now, options_.batch);
  std::vector<Message> messages;
  std::vector<int64_t> seqs;
  for (const auto& r : rows) {
    seqs.push_back(r.seq);
    if (r.message.kind != "dead-letter") messages.push_back(r.message);  // a broker's business
  }
  std::unique_ptr<Intake::Local> local;
  if (!messages.empty()) local = intake_.runIn(*tx, std::move(messages));
  if (options_.keepPublished) store::outbox::archive(*tx, seqs, now);
  store::outbox::remove(*tx, seqs);
  nextDueMs = store::outbox::nextDueAt(*tx);
  try {
    tx->commit();
  } catch (const store::SqlError& e) {
    if (local) intake_.finish(*local, false);
    throw;
  }
  tx.reset();
  if (local) intake_.finish(*local, true);
  return static_cast<int>(rows.size()) == options_.batch;
}

void Relay::loop() {
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
        monitor_.read();
      }
      if (now >= nextPurge) {
        nextPurge = now + std::chrono::minutes(10);
        retention_.purge();
      }
    } catch (const std::exception& e) {
      ++failures;
      log::write(log::Level::Warn, "outbox relay failed; retrying",
                 json{{"error", e.what()}, {"failures", failures}});
    }
    if (more) continue;
    int64_t waitMs = options_.pollIntervalMs;
    if (failures > 0) waitMs = std::min<int64_t>(int64_t{100} << std::min(failures, 6), 5000);
    if (nextDue > 0) waitMs = std::max<int64_t>(1, std::min(waitMs, nextDue - clock_.nowMs()));
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(waitMs), [&] { return wakeUp_ || stopping_; });
    wakeUp_ = false;
  }
}

}  // namespace plexus::dispatch
