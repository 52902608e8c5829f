#pragma once
// The wire format (DESIGN.md §3): CloudEvents 1.0 in binary content mode over AMQP 0-9-1. The
// body is the payload, untouched; the metadata travels in AMQP properties (message_id = id,
// type, content_type = datacontenttype, timestamp, correlation_id, app_id = source) and headers
// named after the CloudEvents AMQP binding (cloudEvents_specversion, cloudEvents_source,
// cloudEvents_subject = stream id, cloudEvents_time), W3C traceparent/tracestate, the project's
// extensions (cloudEvents_causationid, cloudEvents_plexuskind, cloudEvents_plexusinstance,
// cloudEvents_plexusattempt) and x-stream, the consistent-hash exchange's key. docs/api.md has
// the table.
//
// Readers are tolerant: an attribute is taken from its property or from its header (prefix
// "cloudEvents_", "cloudEvents:" or "ce_"), unknown headers are ignored, structured mode
// (content type application/cloudevents+json) is accepted, and so is the JSON envelope of
// Plexus 0.1 (messages in flight across an upgrade).

#include "message/message.hpp"
#include "transport/amqp.hpp"

#include <optional>
#include <string>

namespace plexus::transport {

// Binary content mode: the properties to publish `m` with (its payload is the body).
AmqpProperties toAmqp(const Message& m);

// A consumed delivery as a Message. `exchange` is where it was published (a message without a
// kind header is a command when it came through plexus.commands, else an event). nullopt with
// `error` naming the attribute when a required one (id, type, source, specversion) is missing
// or one is malformed. The payload is moved out of `body` only on success.
std::optional<Message> fromAmqp(const AmqpProperties& properties, std::string& body,
                                const std::string& exchange, std::string& error);

// What can be read of an unusable delivery's attributes, unchecked (for its dead letter).
Message salvage(const AmqpProperties& properties, const std::string& exchange);

}  // namespace plexus::transport
