// [fakes]
#include "greeter.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

using plexus::Json;
using plexus::Status;
using plexus::testing::FakeHost;
using plexus::testing::message;

TEST(Greeter, GreetsEmitsAndCountsAfterCommit) {
  FakeHost host(R"({"greeting": "howdy"})");
  auto greeter = host.create<acme::Greeter>();
  auto out = host.handle(*greeter, message("Greet", Json{{"name", "ada"}}, "greet-1"));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(Json::parse(out.detail)["greeting"], "howdy, ada");
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].type, "Greeted");
  EXPECT_EQ(host.metric("acme_greetings_total"), 1.0);
}

TEST(Greeter, RejectsAMissingNameAndCountsNothing) {
  FakeHost host;
  auto greeter = host.create<acme::Greeter>();
  auto out = host.handle(*greeter, message("Greet", Json::object()));
  EXPECT_EQ(out.status, Status::Reject);
  EXPECT_TRUE(host.emitted().empty());  // a rejected call's messages are discarded
  EXPECT_EQ(host.metric("acme_greetings_total"), 0.0);
}

TEST(PostGreeting, AnswersARejectWith400) {
  FakeHost host;
  host.onInvoke([](const std::string& type, const Json&) {
    EXPECT_EQ(type, "Greet");
    return plexus::testing::HandleOutcome{Status::Reject, "\"name\" must be a string"};
  });
  auto route = host.create<acme::PostGreeting>();
  plexus::testing::TestRequest rq;
  rq.method = "POST";
  rq.path = "/acme/greetings";
  rq.body = "{}";
  auto out = host.request(*route, rq);
  EXPECT_EQ(out.httpStatus, 400);
  EXPECT_EQ(out.json()["error"], "\"name\" must be a string");
}
// [/fakes]
