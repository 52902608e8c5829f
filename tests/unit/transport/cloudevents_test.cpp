// The wire format (transport/cloudevents): CloudEvents binary content mode over AMQP, what foreign
// clients send (headers only, other prefixes, structured mode) and the 0.1 JSON envelope.
#include "transport/cloudevents.hpp"
#include "message/json_envelope.hpp"

#include <gtest/gtest.h>

namespace {

using plexus::Message;
using plexus::transport::AmqpProperties;
using plexus::transport::fromAmqp;
using plexus::transport::toAmqp;

Message sample() {
  Message m;
  m.id = "0190d5a3-7c1e-7000-8000-000000000001";
  m.kind = "command";
  m.type = "ReserveInventory";
  m.stream = "0190d5a3-7c1e-7000-8000-00000000aaaa";
  m.correlation = "corr-1";
  m.causation = "0190d5a3-7c1e-7000-8000-000000000000";
  m.timestampMs = 1767225600123;  // 2026-01-01T00:00:00.123Z
  m.source = "order-service";
  m.sourceInstance = "order-service-7d9-1";
  m.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  m.tracestate = "vendor=1";
  m.payload = "{ \"orderId\" : 1,\n \"items\": [] }";  // as it came: spacing kept
  return m;
}

std::optional<Message> decode(const AmqpProperties& p, std::string body, std::string& error,
                              const std::string& exchange = "plexus.commands") {
  return fromAmqp(p, body, exchange, error);
}

AmqpProperties foreign(const std::vector<std::pair<std::string, std::string>>& headers) {
  AmqpProperties p;
  p.contentType = "application/json";
  p.headers = headers;
  return p;
}

TEST(CloudEvents, BinaryModeRoundTripKeepsEveryAttributeAndThePayloadBytes) {
  const Message m = sample();
  const AmqpProperties p = toAmqp(m);
  EXPECT_EQ(p.messageId, m.id);
  EXPECT_EQ(p.type, m.type);
  EXPECT_EQ(p.appId, "order-service");
  EXPECT_EQ(p.correlationId, "corr-1");
  EXPECT_EQ(p.contentType, "application/json");
  EXPECT_EQ(p.timestamp, 1767225600u);
  ASSERT_NE(p.header("cloudEvents_specversion"), nullptr);
  EXPECT_EQ(*p.header("cloudEvents_specversion"), "1.0");
  EXPECT_EQ(*p.header("cloudEvents_subject"), m.stream);
  EXPECT_EQ(*p.header("cloudEvents_time"), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(*p.header("x-stream"), m.stream);
  std::string error;
  const auto back = decode(p, m.payload, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->id, m.id);
  EXPECT_EQ(back->kind, "command");
  EXPECT_EQ(back->type, m.type);
  EXPECT_EQ(back->stream, m.stream);
  EXPECT_EQ(back->correlation, m.correlation);
  EXPECT_EQ(back->causation, m.causation);
  EXPECT_EQ(back->timestampMs, m.timestampMs);
  EXPECT_EQ(back->source, m.source);
  EXPECT_EQ(back->sourceInstance, m.sourceInstance);
  EXPECT_EQ(back->traceparent, m.traceparent);
  EXPECT_EQ(back->tracestate, m.tracestate);
  EXPECT_EQ(back->payload, m.payload);  // byte for byte
  EXPECT_EQ(back->attempt, 1u);
}

TEST(CloudEvents, HeadersAloneAreEnoughAsAmqpPublishSendsThem) {
  // amqp-publish (amqp-tools) sets no message_id, type or app_id property: only -H headers.
  std::string error;
  const auto m = decode(foreign({{"cloudEvents_specversion", "1.0"},
                                 {"cloudEvents_id", "ext-1"},
                                 {"cloudEvents_type", "Count"},
                                 {"cloudEvents_source", "amqp-tools"},
                                 {"cloudEvents_subject", "s-1"}}),
                        R"({"seq":1})", error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->id, "ext-1");
  EXPECT_EQ(m->type, "Count");
  EXPECT_EQ(m->source, "amqp-tools");
  EXPECT_EQ(m->stream, "s-1");
  EXPECT_EQ(m->kind, "command");  // through plexus.commands
  EXPECT_EQ(m->payload, R"({"seq":1})");
}

TEST(CloudEvents, OtherBindingPrefixesAreRead) {
  for (const std::string prefix : {"cloudEvents:", "ce_"}) {
    std::string error;
    const auto m = decode(foreign({{prefix + "specversion", "1.0"},
                                   {prefix + "id", "p-1"},
                                   {prefix + "type", "Thing"},
                                   {prefix + "source", "elsewhere"}}),
                          "{}", error, "plexus.events");
    ASSERT_TRUE(m) << prefix << ": " << error;
    EXPECT_EQ(m->kind, "event");  // through plexus.events
  }
}

TEST(CloudEvents, EachMissingRequiredAttributeIsNamed) {
  const std::vector<std::pair<std::string, std::string>> all{{"cloudEvents_specversion", "1.0"},
                                                             {"cloudEvents_id", "x"},
                                                             {"cloudEvents_type", "T"},
                                                             {"cloudEvents_source", "s"}};
  for (size_t drop = 0; drop < all.size(); ++drop) {
    auto headers = all;
    const std::string name = headers[drop].first.substr(std::string("cloudEvents_").size());
    headers.erase(headers.begin() + static_cast<long>(drop));
    std::string error;
    EXPECT_FALSE(decode(foreign(headers), "{}", error)) << name;
    EXPECT_NE(error.find("'" + name + "'"), std::string::npos) << error;
  }
}

TEST(CloudEvents, AnUnknownSpecVersionOrBadTimeIsRefused) {
  std::string error;
  EXPECT_FALSE(decode(foreign({{"cloudEvents_specversion", "2.0"},
                               {"cloudEvents_id", "x"},
                               {"cloudEvents_type", "T"},
                               {"cloudEvents_source", "s"}}),
                      "{}", error));
  EXPECT_NE(error.find("specversion 2.0"), std::string::npos) << error;
  EXPECT_FALSE(decode(foreign({{"cloudEvents_specversion", "1.0"},
                               {"cloudEvents_id", "x"},
                               {"cloudEvents_type", "T"},
                               {"cloudEvents_source", "s"},
                               {"cloudEvents_time", "yesterday"}}),
                      "{}", error));
  EXPECT_NE(error.find("'time'"), std::string::npos) << error;
}

TEST(CloudEvents, StructuredModeIsAcceptedOnInput) {
  AmqpProperties p;
  p.contentType = "application/cloudevents+json; charset=utf-8";
  std::string error;
  const auto m = decode(p, R"({"specversion":"1.0","id":"st-1","type":"Count","source":"pika",
    "subject":"s-9","time":"2026-01-01T01:00:00+01:00","datacontenttype":"application/json",
    "causationid":"c-1","data":{"seq":3}})",
                        error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->id, "st-1");
  EXPECT_EQ(m->stream, "s-9");
  EXPECT_EQ(m->causation, "c-1");
  EXPECT_EQ(m->timestampMs, 1767225600000);
  EXPECT_EQ(m->payload, R"({"seq":3})");
  EXPECT_FALSE(decode(p, R"({"specversion":"1.0","id":"st-2","type":"Count"})", error));
  EXPECT_NE(error.find("'source'"), std::string::npos) << error;
}

TEST(CloudEvents, TheJsonEnvelopeOf01IsStillRead) {
  Message m = sample();
  AmqpProperties p;
  p.contentType = "application/json";
  p.messageId = m.id;
  m.payload = R"({"orderId":1})";
  std::string error;
  const auto back = decode(p, plexus::encodeJsonEnvelope(m), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->id, m.id);
  EXPECT_EQ(back->stream, m.stream);
  EXPECT_EQ(back->payload, m.payload);
}

TEST(CloudEvents, APayloadThatLooksLikeAnEnvelopeIsNotMistakenForOne) {
  std::string error;
  const std::string body = R"({"v":1,"id":"inner","type":"inner","payload":{}})";
  const auto m = decode(foreign({{"cloudEvents_specversion", "1.0"},
                                 {"cloudEvents_id", "outer"},
                                 {"cloudEvents_type", "T"},
                                 {"cloudEvents_source", "s"}}),
                        body, error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->id, "outer");
  EXPECT_EQ(m->payload, body);
}

}  // namespace
