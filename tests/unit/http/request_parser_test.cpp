// The request parser: framing, limits and the odd requests of issue 20, byte by byte where it
// matters (a slow client delivers any split).
#include "http/request_parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using plexus::http::RequestParser;
using State = RequestParser::State;

RequestParser::Limits limits(size_t headerBytes = 4096, int headers = 16) {
  RequestParser::Limits l;
  l.maxHeaderBytes = headerBytes;
  l.maxHeaders = headers;
  return l;
}

// Feeds `text` in pieces of `step` bytes; sets the body limits once the head is in. Returns the
// bytes left over (a pipelined next request).
std::string feed(RequestParser& p, const std::string& text, size_t step = 1 << 20,
                 int64_t keep = 1024, int64_t discard = 4096) {
  size_t pos = 0;
  bool limited = false;
  while (pos < text.size() && (p.state() == State::Head || p.state() == State::Body)) {
    if (p.state() == State::Body && !limited) {
      p.limitBody(keep, discard);
      limited = true;
    }
    const size_t n = std::min(step, text.size() - pos);
    const size_t used = p.feed(text.data() + pos, n);
    pos += used;
    if (used == 0 && p.state() == State::Head) break;
  }
  return text.substr(pos);
}

TEST(RequestParser, SimpleGetWithoutBodyIsDoneAfterTheHead) {
  RequestParser p(limits());
  feed(p, "GET /health?x=1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: r1\r\n\r\n");
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_EQ(p.request().method, "GET");
  EXPECT_EQ(p.request().target, "/health?x=1");
  EXPECT_EQ(p.request().path(), "/health");
  EXPECT_EQ(p.request().query(), "x=1");
  EXPECT_EQ(p.request().header("x-request-id"), "r1");
  EXPECT_TRUE(p.request().keepAlive);
}

// Issue 16, defect 2: no Content-Length and no Transfer-Encoding means no body (RFC 9112 §6.3).
TEST(RequestParser, PostWithoutFramingHasNoBody) {
  RequestParser p(limits());
  feed(p, "POST /api/echo HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_TRUE(p.request().body.empty());
}

TEST(RequestParser, OneByteAtATimeGivesTheSameRequest) {
  RequestParser p(limits());
  const std::string rest = feed(
      p, "POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\nhello", 1);
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_EQ(p.request().body, "hello");
  EXPECT_TRUE(rest.empty());
}

TEST(RequestParser, PipelinedRequestsAreLeftUnconsumed) {
  RequestParser p(limits());
  const std::string second = "GET /b HTTP/1.1\r\n\r\n";
  std::string rest =
      feed(p, "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /b HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_EQ(p.request().body, "ok");
  EXPECT_EQ(rest, second);
  p.reset();
  rest = feed(p, rest);
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_EQ(p.request().target, "/b");
  EXPECT_TRUE(rest.empty());
}

TEST(RequestParser, ChunkedBodyWithExtensionsAndTrailers) {
  for (size_t step : {size_t{1}, size_t{3}, size_t{1000}}) {
    RequestParser p(limits());
    const std::string rest =
        feed(p,
             "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT",
             step);
    ASSERT_EQ(p.state(), State::Done) << step;
    EXPECT_EQ(p.request().body, "hello world");
    EXPECT_EQ(rest, "NEXT");
  }
}

TEST(RequestParser, KeepAliveRules) {
  auto keep = [](const std::string& head) {
    RequestParser p(limits());
    feed(p, head);
    EXPECT_EQ(p.state(), State::Done) << head;
    return p.request().keepAlive;
  };
  EXPECT_TRUE(keep("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(keep("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

TEST(RequestParser, AbsoluteFormKeepsPathAndQuery) {
  RequestParser p(limits());
  feed(p, "GET http://example.test:8080/health?x HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_EQ(p.request().target, "/health?x");
}

struct Bad {
  std::string text;
  int status;
};

TEST(RequestParser, MalformedAndAmbiguousRequestsFailWithTheirStatus) {
  const Bad cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / HTTX/1.1\r\n\r\n", 400},
      {"GET noslash HTTP/1.1\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nExpect: something\r\n\r\n", 417},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", 400},
  };
  for (const Bad& b : cases) {
    RequestParser p(limits());
    feed(p, b.text);
    ASSERT_EQ(p.state(), State::Failed) << b.text;
    EXPECT_EQ(p.failure().status, b.status) << b.text;
    EXPECT_FALSE(p.failure().message.empty());
  }
}

TEST(RequestParser, TooManyFieldsIs431) {
  RequestParser p(limits(4096, 3));
  feed(p, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
  ASSERT_EQ(p.state(), State::Failed);
  EXPECT_EQ(p.failure().status, 431);
  EXPECT_EQ(p.failure().message, "more than 3 header fields");
}

// A request line of 1 MiB: 414 once the limit is reached, without buffering the rest.
TEST(RequestParser, HugeRequestLineIs414WithinTheLimit) {
  RequestParser p(limits(4096));
  const std::string line = "GET /" + std::string(1 << 20, 'a');
  const std::string rest = feed(p, line, 1000);
  ASSERT_EQ(p.state(), State::Failed);
  EXPECT_EQ(p.failure().status, 414);
  EXPECT_GT(rest.size(), line.size() - 8192);  // it stopped reading near the limit
}

// 100 fields of 8 KiB: 431 at the byte limit.
TEST(RequestParser, HugeFieldsAre431WithinTheLimit) {
  RequestParser p(limits(64 << 10, 1000));
  std::string head = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i)
    head += "X-F" + std::to_string(i) + ": " + std::string(8192, 'v') + "\r\n";
  head += "\r\n";
  const std::string rest = feed(p, head, 4096);
  ASSERT_EQ(p.state(), State::Failed);
  EXPECT_EQ(p.failure().status, 431);
  EXPECT_GT(rest.size(), head.size() - (80 << 10));
}

TEST(RequestParser, OversizedBodyIsReadAwayThenFlagged) {
  RequestParser p(limits());
  feed(p, "POST / HTTP/1.1\r\nContent-Length: 3000\r\n\r\n" + std::string(3000, 'x'), 700, 1024,
       4096);
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_TRUE(p.oversized());
  EXPECT_TRUE(p.request().body.empty());  // nothing of a refused body is kept
  EXPECT_EQ(p.bodyBytes(), 3000);
}

// An endless chunked body: 413 once kept + read-away bytes pass the cap.
TEST(RequestParser, EndlessChunkedBodyFailsAtTheCap) {
  RequestParser p(limits());
  std::string chunks = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 100; ++i) chunks += "100\r\n" + std::string(256, 'z') + "\r\n";
  feed(p, chunks, 333, 1024, 4096);
  ASSERT_EQ(p.state(), State::Failed);
  EXPECT_EQ(p.failure().status, 413);
  EXPECT_LE(p.bodyBytes(), 1024 + 4096 + 256);
  EXPECT_TRUE(p.request().body.empty());
}

TEST(RequestParser, ExpectContinueIsSeen) {
  RequestParser p(limits());
  feed(p, "POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_EQ(p.state(), State::Body);
  EXPECT_TRUE(p.expectsContinue());
  EXPECT_EQ(p.contentLength(), 4);
}

TEST(RequestParser, LeadingEmptyLinesAndBareLineFeedsAreAccepted) {
  RequestParser p(limits());
  feed(p, "\r\n\r\nGET /x HTTP/1.1\nHost: a\n\n");
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_EQ(p.request().target, "/x");
  EXPECT_EQ(p.request().header("Host"), "a");
}

}  // namespace
