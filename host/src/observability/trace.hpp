#pragma once
// Distributed tracing without an SDK: W3C trace context (traceparent), spans, the standard
// samplers (OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG) and a process-wide tracer that hands
// finished, sampled spans to a sink (the OTLP exporter). Span contexts are created and propagated
// even when nothing is exported, so log lines and messages (their traceparent) always carry a trace
// id.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace plexus::trace {

struct SpanContext {
  std::array<uint8_t, 16> traceId{};
  std::array<uint8_t, 8> spanId{};
  uint8_t flags = 0;  // bit 0: sampled

  bool valid() const;  // non-zero trace id and span id
  bool sampled() const { return (flags & 0x01) != 0; }
  std::string traceIdHex() const;
  std::string spanIdHex() const;
  std::string traceparent() const;  // "00-<trace id>-<span id>-<flags>", empty when invalid
};

// W3C Trace Context, version 00 (future versions are read by their first four fields, as the
// spec asks). Returns nullopt for anything malformed or with all-zero ids.
std::optional<SpanContext> parseTraceparent(std::string_view text);

enum class SpanKind { Internal = 1, Server = 2, Client = 3, Producer = 4, Consumer = 5 };
enum class StatusCode { Unset = 0, Ok = 1, Error = 2 };

using AttributeValue = std::variant<std::string, int64_t, bool, double>;
struct Attribute {
  std::string key;
  AttributeValue value;
};

// A finished span, as exported.
struct SpanData {
  std::string name;
  SpanKind kind = SpanKind::Internal;
  SpanContext context;
  std::array<uint8_t, 8> parentSpanId{};  // all zero for a root span
  uint64_t startUnixNano = 0;
  uint64_t endUnixNano = 0;
  std::vector<Attribute> attributes;
  StatusCode status = StatusCode::Unset;
  std::string statusMessage;
};

class Sampler {
 public:
  enum class Mode { AlwaysOn, AlwaysOff, TraceIdRatio };

  Sampler() = default;  // parentbased_always_on, the OpenTelemetry default
  Sampler(Mode mode, bool parentBased, double ratio = 1.0);

  // From the values of OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (either may be null or
  // empty). Returns nullopt with `error` set for an unknown sampler or a bad ratio.
  static std::optional<Sampler> parse(const char* sampler, const char* arg, std::string& error);

  // The sampled flag of a new span with this trace id, given its parent (null for a root).
  bool shouldSample(const SpanContext* parent, const std::array<uint8_t, 16>& traceId) const;

  std::string describe() const;  // e.g. "parentbased_traceidratio{0.25}"

 private:
  Mode mode_ = Mode::AlwaysOn;
  bool parentBased_ = true;
  double ratio_ = 1.0;
  uint64_t bound_ = UINT64_MAX;  // trace ids whose low 64 bits are below this are sampled
};

// Where finished sampled spans go. Must not block (the exporter only enqueues).
using Sink = std::function<void(SpanData&&)>;

// Process-wide configuration; call before serving. A null sink disables export (contexts are
// still created and propagated).
void configure(Sampler sampler, Sink sink);
bool exporting();

// A span being recorded. Movable, ends at destruction if end() was not called. A default-made
// Span is a no-op with an invalid context.
class Span {
 public:
  Span() = default;
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span();

  const SpanContext& context() const;
  bool recording() const { return data_ != nullptr; }
  std::string traceparent() const { return context().traceparent(); }

  void setName(std::string name);
  void setAttribute(std::string key, AttributeValue value);
  void setStatus(StatusCode code, std::string message = {});
  void end();
  // Drops the span without exporting it (e.g. health probes).
  void discard();

 private:
  friend Span startSpan(std::string name, SpanKind kind, const SpanContext* parent);
  std::unique_ptr<SpanData> data_;  // null when not sampled or already ended
  SpanContext context_;
};

// Starts a span: a child of `parent` when it is valid, else a new trace root.
Span startSpan(std::string name, SpanKind kind, const SpanContext* parent);
// A child of the current span of this thread (see Scope), else of `fallback` (e.g. an incoming
// traceparent), else a root.
Span startSpan(std::string name, SpanKind kind, std::string_view fallbackTraceparent = {});

// Makes a span context the current one of this thread for the scope's lifetime (log lines carry
// its ids; spans started without an explicit parent become its children).
class Scope {
 public:
  explicit Scope(const SpanContext& context);
  explicit Scope(const Span& span) : Scope(span.context()) {}
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  SpanContext previous_;
};

// The current context of this thread (invalid when none).
const SpanContext& current();

uint64_t nowUnixNano();

}  // namespace plexus::trace
