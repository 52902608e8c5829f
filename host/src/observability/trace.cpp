#include "observability/trace.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

namespace plexus::trace {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is invalid in traceparent
}

template <size_t N>
bool readHex(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != N * 2) return false;
  for (size_t i = 0; i < N; ++i) {
    const int hi = hexValue(text[2 * i]), lo = hexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

template <size_t N>
std::string toHex(const std::array<uint8_t, N>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s(N * 2, '0');
  for (size_t i = 0; i < N; ++i) {
    s[2 * i] = digits[bytes[i] >> 4];
    s[2 * i + 1] = digits[bytes[i] & 0x0f];
  }
  return s;
}

template <size_t N>
bool allZero(const std::array<uint8_t, N>& bytes) {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device rd;
    std::seed_seq seq{
        rd(),
        rd(),
        rd(),
        rd(),
        static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id())),
        static_cast<unsigned>(
            std::chrono::high_resolution_clock::now().time_since_epoch().count())};
    return std::mt19937_64(seq);
  }()};
  return engine;
}

template <size_t N>
std::array<uint8_t, N> randomId() {
  std::array<uint8_t, N> id{};
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t v = rng()();
      for (size_t j = 0; j < 8 && i + j < N; ++j, v >>= 8) id[i + j] = static_cast<uint8_t>(v);
    }
  } while (allZero(id));
  return id;
}

struct Tracer {
  Sampler sampler;
  Sink sink;
};

std::mutex& tracerMu() {
  static std::mutex m;
  return m;
}
std::shared_ptr<const Tracer>& tracerSlot() {
  static std::shared_ptr<const Tracer> t = std::make_shared<Tracer>();
  return t;
}
std::shared_ptr<const Tracer> tracer() {
  std::lock_guard<std::mutex> lock(tracerMu());
  return tracerSlot();
}

thread_local SpanContext tlsCurrent;

}  // namespace

bool SpanContext::valid() const { return !allZero(traceId) && !allZero(spanId); }
std::string SpanContext::traceIdHex() const { return toHex(traceId); }
std::string SpanContext::spanIdHex() const { return toHex(spanId); }

std::string SpanContext::traceparent() const {
  if (!valid()) return {};
  char f[3];
  std::snprintf(f, sizeof f, "%02x", flags);
  return "00-" + toHex(traceId) + "-" + toHex(spanId) + "-" + f;
}

std::optional<SpanContext> parseTraceparent(std::string_view text) {
  // version(2) - trace id(32) - parent id(16) - flags(2) = 55 characters.
  if (text.size() < 55) return std::nullopt;
  std::array<uint8_t, 1> version{}, flags{};
  if (!readHex(text.substr(0, 2), version) || version[0] == 0xff) return std::nullopt;
  if (text[2] != '-' || text[35] != '-' || text[52] != '-') return std::nullopt;
  // Version 00 is exactly 55 characters; a later version may append "-..." fields.
  if (version[0] == 0 ? text.size() != 55 : (text.size() > 55 && text[55] != '-'))
    return std::nullopt;
  SpanContext c;
  if (!readHex(text.substr(3, 32), c.traceId) || !readHex(text.substr(36, 16), c.spanId) ||
      !readHex(text.substr(53, 2), flags)) {
    return std::nullopt;
  }
  c.flags = flags[0];
  if (!c.valid()) return std::nullopt;
  return c;
}

Sampler::Sampler(Mode mode, bool parentBased, double ratio)
    : mode_(mode), parentBased_(parentBased), ratio_(ratio) {
  if (ratio_ >= 1.0) {
    bound_ = UINT64_MAX;
  } else if (ratio_ <= 0.0) {
    bound_ = 0;
  } else {
    bound_ = static_cast<uint64_t>(std::ldexp(ratio_, 64));
  }
}

std::optional<Sampler> Sampler::parse(const char* sampler, const char* arg, std::string& error) {
  const std::string name = sampler != nullptr ? sampler : "";
  const std::string a = arg != nullptr ? arg : "";
  double ratio = 1.0;
  const bool ratioBased = name == "traceidratio" || name == "parentbased_traceidratio";
  if (ratioBased && !a.empty()) {
    char* end = nullptr;
    ratio = std::strtod(a.c_str(), &end);
    if (end == a.c_str() || *end != '\0' || !(ratio >= 0.0 && ratio <= 1.0)) {
      error = "OTEL_TRACES_SAMPLER_ARG: '" + a + "' is not a ratio between 0 and 1";
      return std::nullopt;
    }
  }
  if (name.empty() || name == "parentbased_always_on") return Sampler(Mode::AlwaysOn, true);
  if (name == "always_on") return Sampler(Mode::AlwaysOn, false);
  if (name == "always_off") return Sampler(Mode::AlwaysOff, false);
  if (name == "parentbased_always_off") return Sampler(Mode::AlwaysOff, true);
  if (name == "traceidratio") return Sampler(Mode::TraceIdRatio, false, ratio);
  if (name == "parentbased_traceidratio") return Sampler(Mode::TraceIdRatio, true, ratio);
  error = "OTEL_TRACES_SAMPLER: unknown sampler '" + name +
          "' (known: always_on, always_off, traceidratio, parentbased_always_on, "
          "parentbased_always_off, parentbased_traceidratio)";
  return std::nullopt;
}

bool Sampler::shouldSample(const SpanContext* parent,
                           const std::array<uint8_t, 16>& traceId) const {
  if (parentBased_ && parent != nullptr && parent->valid()) return parent->sampled();
  switch (mode_) {
    case Mode::AlwaysOn:
      return true;
    case Mode::AlwaysOff:
      return false;
    case Mode::TraceIdRatio: {
      if (bound_ == UINT64_MAX) return true;
      uint64_t low = 0;  // the random low half of the trace id, so every service agrees
      for (size_t i = 8; i < 16; ++i) low = (low << 8) | traceId[i];
      return low < bound_;
    }
  }
  return false;
}

std::string Sampler::describe() const {
  std::string s = parentBased_ ? "parentbased_" : "";
  switch (mode_) {
    case Mode::AlwaysOn:
      return s + "always_on";
    case Mode::AlwaysOff:
      return s + "always_off";
    case Mode::TraceIdRatio:
      return s + "traceidratio{" + std::to_string(ratio_) + "}";
  }
  return s;
}

void configure(Sampler sampler, Sink sink) {
  auto t = std::make_shared<Tracer>();
  t->sampler = sampler;
  t->sink = std::move(sink);
  std::lock_guard<std::mutex> lock(tracerMu());
  tracerSlot() = std::move(t);
}

bool exporting() { return static_cast<bool>(tracer()->sink); }

uint64_t nowUnixNano() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count());
}

Span::Span(Span&& other) noexcept : data_(std::move(other.data_)), context_(other.context_) {
  other.context_ = SpanContext{};
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    data_ = std::move(other.data_);
    context_ = other.context_;
    other.context_ = SpanContext{};
  }
  return *this;
}

Span::~Span() { end(); }

const SpanContext& Span::context() const { return context_; }

void Span::setName(std::string name) {
  if (data_) data_->name = std::move(name);
}

void Span::setAttribute(std::string key, AttributeValue value) {
  if (!data_) return;
  for (auto& a : data_->attributes) {
    if (a.key == key) {
      a.value = std::move(value);
      return;
    }
  }
  data_->attributes.push_back(Attribute{std::move(key), std::move(value)});
}

void Span::setStatus(StatusCode code, std::string message) {
  if (!data_) return;
  data_->status = code;
  data_->statusMessage = code == StatusCode::Error ? std::move(message) : std::string();
}

void Span::end() {
  if (!data_) return;
  data_->endUnixNano = nowUnixNano();
  std::unique_ptr<SpanData> d = std::move(data_);
  const auto t = tracer();
  if (t->sink) t->sink(std::move(*d));
}

void Span::discard() { data_.reset(); }

Span startSpan(std::string name, SpanKind kind, const SpanContext* parent) {
  const bool hasParent = parent != nullptr && parent->valid();
  Span span;
  span.context_.traceId = hasParent ? parent->traceId : randomId<16>();
  span.context_.spanId = randomId<8>();
  const auto t = tracer();
  const bool sampled = t->sampler.shouldSample(hasParent ? parent : nullptr, span.context_.traceId);
  span.context_.flags = sampled ? 0x01 : 0x00;
  if (sampled && t->sink) {
    span.data_ = std::make_unique<SpanData>();
    span.data_->name = std::move(name);
    span.data_->kind = kind;
    span.data_->context = span.context_;
    if (hasParent) span.data_->parentSpanId = parent->spanId;
    span.data_->startUnixNano = nowUnixNano();
  }
  return span;
}

Span startSpan(std::string name, SpanKind kind, std::string_view fallbackTraceparent) {
  if (tlsCurrent.valid()) return startSpan(std::move(name), kind, &tlsCurrent);
  const auto parent = parseTraceparent(fallbackTraceparent);
  return startSpan(std::move(name), kind, parent ? &*parent : nullptr);
}

Scope::Scope(const SpanContext& context) : previous_(tlsCurrent) { tlsCurrent = context; }
Scope::~Scope() { tlsCurrent = previous_; }

const SpanContext& current() { return tlsCurrent; }

}  // namespace plexus::trace
