// Responses on the wire: framing is the front end's, never a handler's.
#include "http/message.hpp"

#include <gtest/gtest.h>

namespace {

using plexus::http::Response;
using plexus::http::serialize;

TEST(Message, SerializeSetsLengthAndDropsFramingAndUnsafeFields) {
  Response r;
  r.status = 201;
  r.body = "{}";
  r.headers = {{"Content-Type", "application/json"}, {"Content-Length", "999"},
               {"Transfer-Encoding", "chunked"},     {"Connection", "upgrade"},
               {"X-Split", "a\r\nSet-Cookie: evil"}, {"X-Ok", "yes"}};
  const std::string out = serialize(r, false, true, false);
  EXPECT_EQ(out.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("\r\nContent-Length: 2\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nX-Ok: yes\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nDate: "), std::string::npos);
  EXPECT_EQ(out.find("999"), std::string::npos);
  EXPECT_EQ(out.find("chunked"), std::string::npos);
  EXPECT_EQ(out.find("upgrade"), std::string::npos);
  EXPECT_EQ(out.find("evil"), std::string::npos);
  EXPECT_EQ(out.find("Connection:"), std::string::npos);  // keep-alive is HTTP/1.1's default
  EXPECT_EQ(out.substr(out.size() - 6), "\r\n\r\n{}");
}

TEST(Message, CloseHeadAndNoContent) {
  Response r;
  r.status = 200;
  r.body = "hello";
  std::string out = serialize(r, true, false, false);
  EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(out.find("hello"), std::string::npos);  // HEAD: length, no body
  r.status = 204;
  out = serialize(r, false, true, true);
  EXPECT_EQ(out.rfind("HTTP/1.0 204 No Content\r\n", 0), 0u);
  EXPECT_EQ(out.find("Content-Length"), std::string::npos);
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(out.find("hello"), std::string::npos);
}

TEST(Message, ErrorResponseIsJson) {
  const Response r = plexus::http::errorResponse(413, "too \"big\"");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, R"({"error":"too \"big\""})");
  EXPECT_EQ(std::string(plexus::http::reasonPhrase(431)), "Request Header Fields Too Large");
}

}  // namespace
