#include "rebuild/broker_source.hpp"

#include "base/clock.hpp"
#include "observability/log.hpp"
#include "rebuild/applier.hpp"
#include "rebuild/local_source.hpp"
#include "rebuild/replay_protocol.hpp"
#include "rebuild/shadow.hpp"
#include "store/message_rows.hpp"
#include "transport/amqp.hpp"
#include "transport/cloudevents.hpp"

#include <algorithm>

namespace plexus::rebuild {
namespace {

using nlohmann::json;
using transport::Amqp;

// Without rebuild.sources, the deployments that answer within this time after the request are
// the sources.
constexpr int64_t kDiscoveryMs = 3000;
// A reply or tap queue nobody consumes is removed by the broker after this long (the rebuild
// died): responders then stop answering it.
constexpr int64_t kQueueExpiresMs = 120000;
constexpr int kCaughtUpWaitMs = 300;  // the tap is drained when nothing comes within this

transport::AmqpTls tlsOf(const config::Transport& t) {
  return {t.tls.caFile, t.tls.certFile, t.tls.keyFile, t.tls.verifyPeer, t.tls.verifyHostname};
}

}  // namespace

std::unique_ptr<Source> makeSource(const config::Config& config, std::vector<std::string> types,
                                   const std::string& id, const Clock& clock,
                                   const std::atomic<bool>& cancelled) {
  if (config.transport.kind == "rabbitmq")
    return std::make_unique<BrokerSource>(config, std::move(types), id, clock, cancelled);
  return std::make_unique<LocalSource>(std::move(types), clock);
}

BrokerSource::BrokerSource(const config::Config& config, std::vector<std::string> types,
                           std::string id, const Clock& clock, const std::atomic<bool>& cancelled)
    : config_(config),
      types_(std::move(types)),
      id_(std::move(id)),
      clock_(clock),
      cancelled_(cancelled) {
  for (const auto& s : config_.rebuild.sources) answers_[s];
  request();
}

BrokerSource::~BrokerSource() {
  try {
    if (consumer_) consumer_->close();
    if (control_ && control_->isOpen()) {
      control_->deleteQueue(replay::replyQueue(id_));
      control_->deleteQueue(replay::tapQueue(id_));
    }
  } catch (const std::exception&) {
    // they expire on their own
  }
}

void BrokerSource::request() {
  const auto& t = config_.transport;
  control_ = std::make_unique<Amqp>(t.url, tlsOf(t));
  consumer_ = std::make_unique<Amqp>(t.url, tlsOf(t));
  control_->open(5000);
  const transport::AmqpArgs expires{{"x-expires", kQueueExpiresMs}};
  // The tap first: whatever is published from here on is in it, whatever was before is in an
  // event store when the request is answered.
  control_->declareExchange("plexus.events", "topic");
  control_->declareQueue(replay::tapQueue(id_), expires);
  for (const auto& type : types_) control_->bindQueue(replay::tapQueue(id_), "plexus.events", type);
  control_->declareQueue(replay::replyQueue(id_), expires);
  control_->declareExchange(replay::kExchange, "fanout");
  consumer_->open(5000);
  consumer_->qos(static_cast<uint16_t>(std::min(config_.rebuild.batch * 2, 60000)));
  consumer_->consume(replay::replyQueue(id_));
  control_->confirmSelect();
  replay::Request r;
  r.rebuild = id_;
  r.requester = config_.service;
  r.replyTo = replay::replyQueue(id_);
  r.types = types_;
  r.window = config_.rebuild.replyWindow;
  requestedAt_ = clock_.nowMs();
  r.expiresAt = requestedAt_ + int64_t{config_.rebuild.answerTimeoutSeconds} * 1000;
  transport::AmqpProperties p;
  p.contentType = "application/json";
  p.type = "plexus.replay.request";
  p.messageId = id_;
  p.appId = config_.service;
  control_->publish(replay::kExchange, "", p, r.toJson().dump());
  control_->waitForConfirms(10000);
  for (auto& [source, a] : answers_) a.lastHeardMs = requestedAt_;
  log::write(log::Level::Info, "rebuild: replay requested from every deployment",
             json{{"rebuild", id_}, {"types", types_}, {"expected", config_.rebuild.sources}});
}

// With rebuild.sources, when those (and whoever else began meanwhile) ended; without, every
// deployment that answered within the discovery time.
bool BrokerSource::historyDone() const {
  if (config_.rebuild.sources.empty() && clock_.nowMs() - requestedAt_ < kDiscoveryMs) return false;
  return std::all_of(answers_.begin(), answers_.end(),
                     [](const auto& a) { return a.second.ended; });
}

void BrokerSource::rewind() {
  pending_.insert(pending_.end(), again_.begin(), again_.end());
  again_ = std::move(pending_);
  pending_.clear();
}

std::vector<Message> BrokerSource::take(int limit, int waitMs) {
  std::vector<Message> out;
  while (!again_.empty() && static_cast<int>(out.size()) < limit) {
    out.push_back(std::move(again_.front()));
    again_.erase(again_.begin());
  }
  uint64_t lastTag = 0;
  while (static_cast<int>(out.size()) < limit) {
    auto m = consumer_->next(out.empty() ? waitMs : 0);
    if (!m) break;
    lastTag = m->deliveryTag;
    const std::string* kind = m->properties.header(replay::kKindHeader);
    const std::string* from = m->properties.header(replay::kSourceHeader);
    if (tapping_ && m->exchange.empty()) continue;  // a late answer: the history is complete
    if (!tapping_ && kind != nullptr && *kind != "event") {
      const auto body = json::parse(m->body, nullptr, false);
      Answer& a = answers_[from != nullptr ? *from : "?"];
      a.lastHeardMs = clock_.nowMs();
      if (*kind == "begin") a.total = body.is_object() ? body.value("total", int64_t{-1}) : -1;
      if (*kind == "end") a.ended = true;
      if (historyDone()) break;
      continue;
    }
    if (!tapping_ && from != nullptr) {
      Answer& a = answers_[*from];
      ++a.received;
      a.lastHeardMs = clock_.nowMs();
    }
    std::string error;
    std::string body = std::move(m->body);
    auto event = transport::fromAmqp(m->properties, body, m->exchange, error);
    if (!event) {
      throw RebuildError("an unreadable event arrived in the " +
                         std::string(tapping_ ? "tap" : "replay") + ": " + error);
    }
    out.push_back(std::move(*event));
  }
  if (lastTag != 0) consumer_->ack(lastTag, true);
  pending_.insert(pending_.end(), out.begin(), out.end());
  return out;
}

std::vector<Message> BrokerSource::history(store::Transaction&, int limit) {
  const int64_t timeoutMs = int64_t{config_.rebuild.answerTimeoutSeconds} * 1000;
  for (;;) {
    if (cancelled_) throw RebuildError("cancelled");
    if (historyDone()) return {};
    auto out = take(limit, 200);
    if (!out.empty()) return out;
    const int64_t now = clock_.nowMs();
    for (const auto& [source, a] : answers_) {
      if (!a.ended && now - a.lastHeardMs > timeoutMs) {
        throw RebuildError("no answer from deployment " + source + " for " +
                           std::to_string(timeoutMs / 1000) +
                           " s (is it running with a broker? rebuild.sources names it)");
      }
    }
  }
}

std::vector<Message> BrokerSource::recent(store::Transaction&, int limit) {
  if (!tapping_) {
    consumer_->consume(replay::tapQueue(id_));
    tapping_ = true;
  }
  return take(limit, kCaughtUpWaitMs);
}

// Every event the live perspective handled was published, so it is in the tap (or was in the
// history): take from the tap until the shadow has each of them.
std::vector<Message> BrokerSource::missing(store::Transaction& tx, const std::string& handler,
                                           int64_t sinceMs) {
  std::set<std::string> wanted;
  for (const Row& r : tx.query("SELECT i.message_id FROM plexus_inbox i WHERE i.handler = $1 AND "
                               "i.processed_at >= $2 AND NOT EXISTS (SELECT 1 FROM "
                               "plexus_rebuild_ledger l WHERE l.message_id = i.message_id)",
                               {handler, static_cast<long long>(sinceMs)})) {
    wanted.insert(r[0].asText());
  }
  std::vector<Message> out;
  const int64_t deadline = clock_.nowMs() + int64_t{config_.rebuild.answerTimeoutSeconds} * 1000;
  while (!wanted.empty()) {
    if (cancelled_) throw RebuildError("cancelled");
    if (clock_.nowMs() > deadline) {
      throw store::SqlError(std::to_string(wanted.size()) +
                                " event(s) the live perspective handled did not come through the "
                                "tap in time",
                            true);
    }
    if (!tapping_) recent(tx, 0);
    for (auto& m : take(config_.rebuild.batch, 200)) {
      wanted.erase(m.id);
      out.push_back(std::move(m));
    }
  }
  return out;
}

int64_t BrokerSource::lag(store::Transaction&) {
  int64_t lag = 0;
  try {
    lag += control_->messageCount(tapping_ ? replay::tapQueue(id_) : replay::replyQueue(id_));
  } catch (const std::exception&) {
    return -1;
  }
  if (!tapping_) {
    for (const auto& [source, a] : answers_) {
      if (a.total >= 0) lag = std::max<int64_t>(lag, a.total - a.received);
    }
  }
  return lag;
}

}  // namespace plexus::rebuild
