#include "http/router.hpp"

#include <gtest/gtest.h>

namespace {

using plexus::http::Router;
using Kind = Router::Match::Kind;

Router make() {
  Router r;
  std::string err;
  EXPECT_TRUE(r.add("GET", "/api/orders/{id}", 0, err));
  EXPECT_TRUE(r.add("POST", "/api/orders", 1, err));
  EXPECT_TRUE(r.add("GET", "/api/orders/summary", 2, err));
  EXPECT_TRUE(r.add("PUT", "/api/inventory/{productId}", 3, err));
  EXPECT_TRUE(r.add("GET", "/api/inventory/{productId}", 4, err));
  EXPECT_TRUE(r.add("GET", "/api/customers/{id}/orders", 5, err));
  return r;
}

TEST(Router, MatchesTemplateAndDecodesParams) {
  auto m = make().match("GET", "/api/orders/a%20b");
  ASSERT_EQ(m.kind, Kind::Found);
  EXPECT_EQ(m.route, 0u);
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "a b");
}

TEST(Router, LiteralBeatsParameter) {
  auto m = make().match("GET", "/api/orders/summary");
  ASSERT_EQ(m.kind, Kind::Found);
  EXPECT_EQ(m.route, 2u);
}

TEST(Router, TrailingSlashIsTheSameResource) {
  EXPECT_EQ(make().match("POST", "/api/orders/").route, 1u);
}

TEST(Router, NestedParameter) {
  auto m = make().match("GET", "/api/customers/c-1/orders");
  ASSERT_EQ(m.kind, Kind::Found);
  EXPECT_EQ(m.params[0].second, "c-1");
}

TEST(Router, MethodNotAllowedListsAllowed) {
  auto m = make().match("DELETE", "/api/inventory/p1");
  ASSERT_EQ(m.kind, Kind::MethodNotAllowed);
  EXPECT_EQ(m.allowed.size(), 2u);
}

TEST(Router, NotFound) {
  EXPECT_EQ(make().match("GET", "/api/nothing").kind, Kind::NotFound);
  EXPECT_EQ(make().match("GET", "/api/orders/a/b").kind, Kind::NotFound);
  EXPECT_EQ(make().match("GET", "/api/orders//").kind, Kind::NotFound);
  EXPECT_EQ(make().match("GET", "relative").kind, Kind::NotFound);
}

TEST(Router, MalformedEscapeIsNotFound) {
  EXPECT_EQ(make().match("GET", "/api/orders/%zz").kind, Kind::NotFound);
  EXPECT_EQ(make().match("GET", "/api/orders/%4").kind, Kind::NotFound);
}

TEST(Router, RejectsBadTemplates) {
  Router r;
  std::string err;
  EXPECT_FALSE(r.add("GET", "api/x", 0, err));
  EXPECT_FALSE(r.add("GET", "/api/x{id}", 0, err));
  EXPECT_FALSE(r.add("GET", "/api//x", 0, err));
}

}  // namespace
