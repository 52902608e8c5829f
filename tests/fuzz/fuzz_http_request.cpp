// The HTTP request parser (host/src/http/request_parser.cpp), which reads every byte a client
// sends. The first input byte picks how the rest is cut into reads (1..255 bytes each); the rest is
// the byte stream, parsed as a sequence of pipelined requests. Invariants: a parse never takes more
// than it is given and always progresses; cutting the stream differently gives the same requests
// (a slow client sees the same server as a fast one); a finished request has a token method, an
// origin-form target, HTTP/1.0 or 1.1, and a body within the kept limit (empty when oversized);
// a failure carries one of the statuses the front end answers.
#include "fuzz_support.hpp"
#include "http/request_parser.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace {

using plexus::http::RequestParser;
using State = RequestParser::State;

constexpr int64_t kKeep = 64;
constexpr int64_t kDiscard = 256;

// One outcome per request in the stream, as text, for comparison.
std::vector<std::string> parseAll(const std::string& bytes, size_t step) {
  RequestParser::Limits limits;
  limits.maxHeaderBytes = 1024;
  limits.maxHeaders = 8;
  RequestParser p(limits);
  std::vector<std::string> out;
  size_t pos = 0;
  for (int requests = 0; requests < 64; ++requests) {
    bool limited = false;
    while (pos < bytes.size() && (p.state() == State::Head || p.state() == State::Body)) {
      if (p.state() == State::Body && !limited) {
        p.limitBody(kKeep, kDiscard);
        limited = true;
      }
      const size_t n = std::min(step, bytes.size() - pos);
      const size_t used = p.feed(bytes.data() + pos, n);
      FUZZ_CHECK(used <= n, "took more than given");
      const bool progressed = used > 0 || p.state() == State::Done || p.state() == State::Failed ||
                              (p.state() == State::Body && !limited);
      FUZZ_CHECK(progressed, "no progress");
      pos += used;
    }
    if (p.state() == State::Body && !limited) p.limitBody(kKeep, kDiscard);
    if (p.state() == State::Failed) {
      const int s = p.failure().status;
      FUZZ_CHECK(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505,
                 std::to_string(s));
      out.push_back("failed " + std::to_string(s));
      return out;
    }
    if (p.state() != State::Done) {
      out.push_back("incomplete");
      return out;
    }
    const auto& r = p.request();
    FUZZ_CHECK(!r.method.empty(), "empty method");
    FUZZ_CHECK(r.target == "*" || (!r.target.empty() && r.target[0] == '/'), r.target);
    FUZZ_CHECK(r.version == "HTTP/1.1" || r.version == "HTTP/1.0", r.version);
    FUZZ_CHECK(static_cast<int64_t>(r.body.size()) <= kKeep, "body over the kept limit");
    FUZZ_CHECK(!p.oversized() || r.body.empty(), "an oversized body was kept");
    FUZZ_CHECK(static_cast<int>(r.headers.size()) <= limits.maxHeaders, "too many fields kept");
    std::string text = r.method + " " + r.target + " " + r.version + " " +
                       std::to_string(r.keepAlive) + " " + std::to_string(p.oversized());
    for (const auto& [k, v] : r.headers) text += "|" + k + ":" + v;
    out.push_back(text + "|" + r.body);
    p.reset();
    if (pos >= bytes.size()) return out;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = data[0] == 0 ? 1 : data[0];
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto whole = parseAll(bytes, bytes.size() + 1);
  const auto cut = parseAll(bytes, step);
  FUZZ_CHECK(whole == cut, "cutting the stream into reads of " + std::to_string(step) +
                               " bytes changed the result");
  return 0;
}
