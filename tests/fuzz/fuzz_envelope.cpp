// Envelope decoder (host/src/message/json_envelope.cpp): every message from the broker or the
// outbox goes through decode(), so any byte string must give an envelope or a clear error, never an
// exception or a crash; and what encode() writes must decode to the same envelope.
#include "fuzz_support.hpp"
#include "message/json_envelope.hpp"

#include <cstdint>
#include <string>

namespace {
void sameEnvelope(const plexus::Message& a, const plexus::Message& b) {
  FUZZ_CHECK(a.id == b.id, a.id);
  FUZZ_CHECK(a.kind == b.kind, a.kind);
  FUZZ_CHECK(a.type == b.type, a.type);
  FUZZ_CHECK(a.stream == b.stream, a.stream);
  FUZZ_CHECK(a.correlation == b.correlation, a.correlation);
  FUZZ_CHECK(a.causation == b.causation, a.causation);
  FUZZ_CHECK(a.timestampMs == b.timestampMs, std::to_string(a.timestampMs));
  FUZZ_CHECK(a.source == b.source, a.source);
  FUZZ_CHECK(a.sourceInstance == b.sourceInstance, a.sourceInstance);
  FUZZ_CHECK(a.traceparent == b.traceparent, a.traceparent);
  FUZZ_CHECK(a.attempt == b.attempt, std::to_string(a.attempt));
  FUZZ_CHECK(a.payload == b.payload, a.payload);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto e = plexus::decodeJsonEnvelope(text, error);  // must not throw
  if (!e) {
    FUZZ_CHECK(!error.empty(), "a refused envelope needs a reason");
    return 0;
  }
  FUZZ_CHECK(!e->id.empty() && !e->type.empty(), "decoded envelope without id or type");
  const std::string again = plexus::encodeJsonEnvelope(*e);
  std::string error2;
  const auto e2 = plexus::decodeJsonEnvelope(again, error2);
  FUZZ_CHECK(e2.has_value(), "encode() wrote an envelope decode() refuses: " + error2);
  sameEnvelope(*e, *e2);
  return 0;
}
