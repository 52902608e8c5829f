#include "store/outbox.hpp"

namespace plexus::store {

void appendOutgoing(Transaction& tx, const std::vector<Outgoing>& messages, int64_t nowMs) {
  for (const Outgoing& m : messages) {
    const Envelope& e = m.envelope;
    if (e.kind == "event") {
      try {
        tx.exec(
            "INSERT INTO plexus_events (stream_id, version, message_id, type, payload, created_at) "
            "SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5 FROM plexus_events WHERE "
            "stream_id = $1",
            {e.stream, e.id, e.type, e.payload, static_cast<long long>(nowMs)});
      } catch (const SqlError& err) {
        // Another writer appended to the stream first: optimistic concurrency, try again.
        throw SqlError(std::string("event stream ") + e.stream + " moved on: " + err.what(), true);
      }
    }
    tx.exec(
        "INSERT INTO plexus_outbox (message_id, kind, type, stream_id, envelope, deliver_at, "
        "created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {e.id, e.kind, e.type, e.stream, encode(e),
         static_cast<long long>(m.deliverAtMs > 0 ? m.deliverAtMs : nowMs),
         static_cast<long long>(nowMs)});
  }
}

}  // namespace plexus::store
