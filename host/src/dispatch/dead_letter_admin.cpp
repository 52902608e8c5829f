#include "dispatch/dead_letter_admin.hpp"

#include <plexus/sdk/rfc3339.hpp>
#include "base/clock.hpp"
#include "store/dead_letters.hpp"
#include "store/deliveries.hpp"

namespace plexus::dispatch {
namespace {

using nlohmann::json;

json messageJson(const Message& m) {
  json payload = json::parse(m.payload, nullptr, false);
  return json{{"id", m.id},
              {"kind", m.kind},
              {"type", m.type},
              {"stream", m.stream},
              {"correlation", m.correlation},
              {"causation", m.causation},
              {"source", json{{"service", m.source}, {"instance", m.sourceInstance}}},
              {"time", rfc3339::format(m.timestampMs)},
              {"traceparent", m.traceparent},
              {"contentType", m.contentType},
              {"payload", payload.is_discarded() ? json(m.payload) : payload}};
}

}  // namespace

json deadLetterJson(const store::dead_letters::DeadLetter& d) {
  return json{{"id", d.id},
              {"messageId", d.message.id},
              {"handler", d.handler},
              {"type", d.message.type},
              {"stream", d.message.stream},
              {"reason", d.reason},
              {"attempts", d.attempts},
              {"firstFailedAt", rfc3339::format(d.firstFailedAt)},
              {"lastFailedAt", rfc3339::format(d.lastFailedAt)},
              {"message", messageJson(d.message)}};
}

json DeadLetterAdmin::list(int limit) {
  auto tx = store_.begin();
  const auto rows = store::dead_letters::list(*tx, limit);
  tx->commit();
  json out = json::array();
  for (const auto& d : rows) out.push_back(deadLetterJson(d));
  return out;
}

bool DeadLetterAdmin::retry(const std::string& id) {
  auto tx = store_.begin();
  const auto d = store::dead_letters::get(*tx, id);
  if (!d || d->handler == "-") {
    tx->rollback();
    return false;
  }
  // The replay starts a fresh attempt count; the inbox still dedupes if it was handled meanwhile.
  Message m = d->message;
  m.attempt = 1;
  store::deliveries::add(*tx, m, d->handler, clock_.nowMs());
  store::dead_letters::remove(*tx, id);
  tx->commit();
  if (wakeScheduler_) wakeScheduler_();
  return true;
}

bool DeadLetterAdmin::discard(const std::string& id) {
  auto tx = store_.begin();
  const bool removed = store::dead_letters::remove(*tx, id);
  tx->commit();
  return removed;
}

}  // namespace plexus::dispatch
