#include "observability/trace.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

namespace {

using namespace plexus::trace;

// Collects what the tracer hands to its sink; restores "no export" afterwards.
class Recorder {
 public:
  explicit Recorder(Sampler sampler = Sampler()) {
    configure(sampler, [this](SpanData&& s) {
      std::lock_guard<std::mutex> lock(mu_);
      spans_.push_back(std::move(s));
    });
  }
  ~Recorder() { configure(Sampler(), nullptr); }
  std::vector<SpanData> spans() {
    std::lock_guard<std::mutex> lock(mu_);
    return spans_;
  }

 private:
  std::mutex mu_;
  std::vector<SpanData> spans_;
};

TEST(Traceparent, ParsesAndFormatsTheW3CExample) {
  const std::string text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const auto c = parseTraceparent(text);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->traceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->spanIdHex(), "00f067aa0ba902b7");
  EXPECT_TRUE(c->sampled());
  EXPECT_EQ(c->traceparent(), text);
}

TEST(Traceparent, RefusesMalformedValues) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",           // no flags
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero span id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // upper case
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // v00 has 4 fields
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",        // separators
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",        // not hex
       }) {
    EXPECT_FALSE(parseTraceparent(bad)) << bad;
  }
  // A later version is read by its first four fields.
  EXPECT_TRUE(parseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"));
}

TEST(Sampler, ParsesTheStandardNamesAndRefusesOthers) {
  std::string error;
  for (const char* name : {"always_on", "always_off", "traceidratio", "parentbased_always_on",
                           "parentbased_always_off", "parentbased_traceidratio", ""}) {
    EXPECT_TRUE(Sampler::parse(name, "0.5", error)) << name << ": " << error;
  }
  EXPECT_FALSE(Sampler::parse("sometimes", nullptr, error));
  EXPECT_NE(error.find("unknown sampler 'sometimes'"), std::string::npos);
  EXPECT_FALSE(Sampler::parse("traceidratio", "1.5", error));
  EXPECT_NE(error.find("OTEL_TRACES_SAMPLER_ARG"), std::string::npos);
  EXPECT_FALSE(Sampler::parse("traceidratio", "half", error));
  EXPECT_EQ(Sampler::parse(nullptr, nullptr, error)->describe(), "parentbased_always_on");
}

TEST(Sampler, RatioSamplesAboutThatShareAndParentBasedFollowsTheParent) {
  std::string error;
  const auto quarter = Sampler::parse("traceidratio", "0.25", error);
  ASSERT_TRUE(quarter);
  int sampled = 0;
  for (int i = 0; i < 4000; ++i) {
    Span s = startSpan("x", SpanKind::Internal, nullptr);  // random trace ids
    sampled += quarter->shouldSample(nullptr, s.context().traceId) ? 1 : 0;
  }
  EXPECT_GT(sampled, 800);
  EXPECT_LT(sampled, 1200);

  const auto parentOff =
      parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  const auto parentOn = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  const Sampler on = *Sampler::parse("parentbased_always_on", nullptr, error);
  EXPECT_FALSE(on.shouldSample(&*parentOff, parentOff->traceId));
  EXPECT_TRUE(on.shouldSample(&*parentOn, parentOn->traceId));
  const Sampler always = *Sampler::parse("always_on", nullptr, error);
  EXPECT_TRUE(always.shouldSample(&*parentOff, parentOff->traceId));  // ignores the parent
  const Sampler off = *Sampler::parse("parentbased_always_off", nullptr, error);
  EXPECT_FALSE(off.shouldSample(nullptr, parentOn->traceId));
  EXPECT_TRUE(off.shouldSample(&*parentOn, parentOn->traceId));
}

TEST(Span, ChildrenShareTheTraceAndNameTheirParent) {
  Recorder rec;
  const auto remote = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  {
    Span server = startSpan("HTTP GET", SpanKind::Server, remote->traceparent());
    Scope scope(server);
    EXPECT_EQ(current().spanIdHex(), server.context().spanIdHex());
    Span child = startSpan("db.transaction", SpanKind::Internal);
    child.setAttribute("db.system", std::string("sqlite"));
    child.setAttribute("db.system", std::string("postgresql"));  // replaces, no duplicate key
    child.setStatus(StatusCode::Error, "boom");
  }
  EXPECT_FALSE(current().valid());  // the scope restored "no span"
  const auto spans = rec.spans();
  ASSERT_EQ(spans.size(), 2u);
  const SpanData& child = spans[0];  // ends first
  const SpanData& server = spans[1];
  EXPECT_EQ(server.context.traceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(server.parentSpanId, remote->spanId);
  EXPECT_EQ(child.context.traceId, server.context.traceId);
  EXPECT_EQ(child.parentSpanId, server.context.spanId);
  EXPECT_NE(child.context.spanId, server.context.spanId);
  ASSERT_EQ(child.attributes.size(), 1u);
  EXPECT_EQ(std::get<std::string>(child.attributes[0].value), "postgresql");
  EXPECT_EQ(child.status, StatusCode::Error);
  EXPECT_EQ(child.statusMessage, "boom");
  EXPECT_LE(child.startUnixNano, child.endUnixNano);
  EXPECT_LE(server.startUnixNano, child.startUnixNano);
}

TEST(Span, UnsampledAndDiscardedSpansAreNotExportedButStillPropagate) {
  std::string error;
  Recorder rec(*Sampler::parse("always_off", nullptr, error));
  Span s = startSpan("x", SpanKind::Internal, nullptr);
  EXPECT_FALSE(s.recording());
  EXPECT_TRUE(s.context().valid());
  EXPECT_EQ(s.traceparent().substr(53), "00");  // flags: not sampled
  s.end();
  Recorder on;
  Span probe = startSpan("HTTP GET", SpanKind::Server, nullptr);
  probe.discard();
  probe.end();
  EXPECT_TRUE(on.spans().empty());
}

TEST(Span, WithoutASinkNothingIsRecordedButContextsAreCreated) {
  configure(Sampler(), nullptr);
  Span s = startSpan("x", SpanKind::Internal, nullptr);
  EXPECT_FALSE(s.recording());
  EXPECT_TRUE(s.context().valid());
  EXPECT_TRUE(s.context().sampled());
}

}  // namespace
