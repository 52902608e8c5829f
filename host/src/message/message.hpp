#pragma once
// One message as the host holds it (DESIGN.md §3 "Wire format"): metadata beside the payload
// bytes, which the host never parses or re-serialises. The stored forms keep the same fields in
// columns; the broker carries them as AMQP properties and CloudEvents headers.

#include <cstdint>
#include <string>

namespace plexus {

struct Message {
  std::string id;              // UUIDv7 (CloudEvents id, AMQP message_id)
  std::string kind;            // "event" | "command"
  std::string type;            // CloudEvents type, AMQP type
  std::string stream;          // CloudEvents subject: the stream id (per-stream order)
  std::string correlation;     // AMQP correlation_id: the request or first message of the flow
  std::string causation;       // id of the message or request that caused this one
  int64_t timestampMs = 0;     // CloudEvents time (Unix ms)
  std::string source;          // CloudEvents source, AMQP app_id: the sending service
  std::string sourceInstance;  // the sending host instance (pod)
  std::string traceparent;     // W3C trace context
  std::string tracestate;
  std::string contentType = "application/json";  // CloudEvents datacontenttype
  uint32_t attempt = 1;                          // 1 for a first delivery; higher for a retry
  std::string payload;                           // the data, as it came
};

}  // namespace plexus
