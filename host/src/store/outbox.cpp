#include "store/outbox.hpp"

namespace plexus::store {

void appendOutgoing(Transaction& tx, const std::vector<Outgoing>& messages, int64_t nowMs,
                    bool deferred) {
  static const std::string kEvent =
      "INSERT INTO plexus_events (stream_id, version, message_id, type, payload, created_at) "
      "SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5 FROM plexus_events WHERE "
      "stream_id = $1";
  static const std::string kOutbox =
      "INSERT INTO plexus_outbox (message_id, kind, type, stream_id, envelope, deliver_at, "
      "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
  for (const Outgoing& m : messages) {
    const Envelope& e = m.envelope;
    if (e.kind == "event") {
      const std::vector<Value> event{e.stream, e.id, e.type, e.payload,
                                     static_cast<long long>(nowMs)};
      if (deferred) {
        tx.defer(kEvent, event);
      } else {
        try {
          tx.exec(kEvent, event);
        } catch (const SqlError& err) {
          // Another writer appended to the stream first: optimistic concurrency, try again.
          throw SqlError(std::string("event stream ") + e.stream + " moved on: " + err.what(),
                         true);
        }
      }
    }
    const std::vector<Value> row{e.id,
                                 e.kind,
                                 e.type,
                                 e.stream,
                                 encode(e),
                                 static_cast<long long>(m.deliverAtMs > 0 ? m.deliverAtMs : nowMs),
                                 static_cast<long long>(nowMs)};
    if (deferred) {
      tx.defer(kOutbox, row);
    } else {
      tx.exec(kOutbox, row);
    }
  }
}

}  // namespace plexus::store
