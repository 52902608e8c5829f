// The C++ SDK through its own fakes: the exception barrier, after-commit semantics, routes.
#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

namespace {

using plexus::Json;
using plexus::Status;
using plexus::testing::FakeHost;
using plexus::testing::message;

class Counting final : public plexus::Receptor {
 public:
  explicit Counting(plexus::Host& host)
      : limit_(host.config().value("limit", 10)),
        done_(host.counter("counting_done_total", "Done.")) {}
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& m) override {
    const Json body = m.json();
    const std::string mode = body.value("mode", "ok");
    if (mode == "throw") throw std::logic_error("boom");
    if (mode == "transient") throw plexus::TransientError("database busy");
    if (mode == "bad") throw plexus::BadRequest("n must be a number");
    if (mode == "sql") ctx.exec("UPDATE t SET n = n + 1 WHERE id = $1", std::string(m.stream()));
    if (body.value("n", 0) > limit_) return plexus::reject("n above limit");
    ctx.emit("Counted", Json{{"n", body.value("n", 0)}});
    ctx.afterCommit([this] { done_.increment(); });
    if (mode == "after_commit_throws")
      ctx.afterCommit([] { throw std::runtime_error("smtp down"); });
    return plexus::ok(Json{{"accepted", true}}.dump());
  }

 private:
  int limit_;
  plexus::Metric done_;
};
PLEXUS_REGISTER_RECEPTOR(Counting, "Count");

class Lookup final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    if (req.method() == "POST") {
      const Json body = req.json();
      auto r = ctx.invoke("Count", body);
      if (r.status != Status::Ok) return plexus::Response::error(422, r.detail);
      return plexus::Response::json(201, Json::parse(r.detail)).header("Location", "/x/1");
    }
    const auto id = req.param("id");
    if (!id) throw plexus::BadRequest("id missing");
    if (*id == "explode") throw std::runtime_error("secret internal detail");
    return plexus::Response::json(200, Json{{"id", *id}, {"q", req.query("q").value_or("")}});
  }
};
PLEXUS_REGISTER_ROUTE(Lookup, "GET", "/x/{id}");

TEST(Sdk, ReceptorEmitsAndCountsAfterCommit) {
  FakeHost host(R"({"limit": 5})");
  auto c = host.create<Counting>();
  auto out = host.handle(*c, message("Count", Json{{"n", 3}}, "s-1"));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(Json::parse(out.detail)["accepted"], true);
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].type, "Counted");
  EXPECT_EQ(host.emitted()[0].stream, "s-1");  // empty stream = the current one
  EXPECT_EQ(host.metric("counting_done_total"), 1.0);
}

TEST(Sdk, RejectDiscardsEffectsAndSkipsAfterCommit) {
  FakeHost host(R"({"limit": 5})");
  auto c = host.create<Counting>();
  auto out = host.handle(*c, message("Count", Json{{"n", 6}}));
  EXPECT_EQ(out.status, Status::Reject);
  EXPECT_EQ(out.detail, "n above limit");
  EXPECT_TRUE(host.emitted().empty());
  EXPECT_EQ(host.metric("counting_done_total"), 0.0);
}

TEST(Sdk, AfterCommitExceptionIsLoggedAndTheCommitStands) {
  FakeHost host;
  auto c = host.create<Counting>();
  auto out = host.handle(*c, message("Count", Json{{"mode", "after_commit_throws"}}));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.metric("counting_done_total"), 1.0);
  ASSERT_FALSE(host.logs().empty());
  EXPECT_NE(host.logs().back().find("after-commit callback threw"), std::string::npos);
  EXPECT_NE(host.logs().back().find("smtp down"), std::string::npos);
}

TEST(Sdk, ExceptionBecomesRejectWithReason) {
  FakeHost host;
  auto c = host.create<Counting>();
  auto out = host.handle(*c, message("Count", Json{{"mode", "throw"}}));
  EXPECT_EQ(out.status, Status::Reject);
  EXPECT_NE(out.detail.find("boom"), std::string::npos);
}

TEST(Sdk, MalformedPayloadIsRejected) {
  FakeHost host;
  auto c = host.create<Counting>();
  plexus::testing::TestMessage m;
  m.type = "Count";
  m.payload = "{not json";
  EXPECT_EQ(host.handle(*c, m).status, Status::Reject);
}

TEST(Sdk, BadRequestInAReceptorIsARejectWithItsMessage) {
  FakeHost host;
  auto c = host.create<Counting>();
  auto out = host.handle(*c, message("Count", Json{{"mode", "bad"}}));
  EXPECT_EQ(out.status, Status::Reject);
  EXPECT_EQ(out.detail, "n must be a number");
}

TEST(Sdk, TransientErrorBecomesRetry) {
  FakeHost host;
  auto c = host.create<Counting>();
  EXPECT_EQ(host.handle(*c, message("Count", Json{{"mode", "transient"}})).status, Status::Retry);
}

TEST(Sdk, FailedSqlPropagatesTheHostStatus) {
  FakeHost host;
  host.onSql([](const plexus::testing::Statement& st) {
    plexus::testing::SqlAnswer a;
    if (st.sql.rfind("UPDATE", 0) == 0) {
      a.status = Status::Retry;
      a.error = "serialization failure";
    }
    return a;
  });
  auto c = host.create<Counting>();
  auto out = host.handle(*c, message("Count", Json{{"mode", "sql"}}, "s-9"));
  EXPECT_EQ(out.status, Status::Retry);
  EXPECT_NE(out.detail.find("serialization failure"), std::string::npos);
  ASSERT_EQ(host.statements().size(), 1u);
  EXPECT_EQ(host.statements()[0].params.at(0).asText(), "s-9");
  EXPECT_TRUE(host.emitted().empty());
}

TEST(Sdk, RouteAnswersWithParamsAndQuery) {
  FakeHost host;
  auto r = host.create<Lookup>();
  plexus::testing::TestRequest rq;
  rq.path = "/x/42";
  rq.params = {{"id", "42"}};
  rq.query = "q=a%20b+c&z=1";
  auto out = host.request(*r, rq);
  EXPECT_EQ(out.httpStatus, 200);
  EXPECT_EQ(out.json()["q"], "a b c");
}

TEST(Sdk, RouteExceptionIs500WithoutInternals) {
  FakeHost host;
  auto r = host.create<Lookup>();
  plexus::testing::TestRequest rq;
  rq.params = {{"id", "explode"}};
  auto out = host.request(*r, rq);
  EXPECT_EQ(out.httpStatus, 500);
  EXPECT_EQ(out.body.find("secret"), std::string::npos);
  ASSERT_FALSE(host.logs().empty());
  EXPECT_NE(host.logs().back().find("secret internal detail"), std::string::npos);
}

TEST(Sdk, MalformedBodyIs400) {
  FakeHost host;
  auto r = host.create<Lookup>();
  plexus::testing::TestRequest rq;
  rq.method = "POST";
  rq.body = "{oops";
  auto out = host.request(*r, rq);
  EXPECT_EQ(out.httpStatus, 400);
  EXPECT_EQ(out.json()["error"],
            "request body is not valid JSON: unexpected 'o' at line 1, column 2");
}

// Defect 4 of issue 16: 400 bodies quoted the JSON library ("[json.exception.parse_error.101]
// parse error at line 1, column 1: syntax error while parsing value - ...").
TEST(Sdk, BadJsonIsExplainedInTheRequestsTerms) {
  FakeHost host;
  auto r = host.create<Lookup>();
  auto error = [&](const std::string& body) {
    plexus::testing::TestRequest rq;
    rq.method = "POST";
    rq.body = body;
    auto out = host.request(*r, rq);
    EXPECT_EQ(out.httpStatus, 400) << body;
    const std::string text = out.json()["error"].get<std::string>();
    EXPECT_EQ(text.find("json.exception"), std::string::npos) << text;
    return text;
  };
  EXPECT_EQ(error(""), "request body is empty: send a JSON document");
  EXPECT_EQ(error("{\"n\": "), "request body ends before its JSON is complete (6 bytes)");
  EXPECT_EQ(error("{\"n\": 1}}"),
            "request body is not valid JSON: unexpected '}' at line 1, column 9");
  EXPECT_EQ(error("{\n  \"n\" 1}"),
            "request body is not valid JSON: unexpected '1' at line 2, column 7");
  EXPECT_EQ(error("[1e999]"), "request body holds a number too large to read");
  EXPECT_EQ(error("\"\x01\""),
            "request body is not valid JSON: unexpected byte 0x01 (strings must be UTF-8, control "
            "characters escaped) at line 1, column 2");
}

TEST(Sdk, APayloadOfTheWrongShapeIsRejectedInTheMessagesTerms) {
  FakeHost host;
  auto c = host.create<Counting>();
  auto bad = plexus::testing::message("Count", Json::object());
  bad.payload = "{\"n\": ";
  auto out = host.handle(*c, bad);
  EXPECT_EQ(out.status, Status::Reject);
  EXPECT_EQ(out.detail, "payload of Count ends before its JSON is complete (6 bytes)");
  out = host.handle(*c, message("Count", Json{{"mode", 5}}));  // value("mode", "ok") on a number
  EXPECT_EQ(out.status, Status::Reject);
  EXPECT_EQ(out.detail, "handling Count: type must be string, but is number");
}

TEST(Sdk, RouteInvokesLocalReceptor) {
  FakeHost host;
  host.onInvoke([](const std::string& type, const Json& payload) {
    EXPECT_EQ(type, "Count");
    return plexus::testing::HandleOutcome{Status::Ok, Json{{"n", payload["n"]}}.dump()};
  });
  auto r = host.create<Lookup>();
  plexus::testing::TestRequest rq;
  rq.method = "POST";
  rq.body = R"({"n": 7})";
  auto out = host.request(*r, rq);
  EXPECT_EQ(out.httpStatus, 201);
  EXPECT_EQ(out.headers.at("Location"), "/x/1");
  EXPECT_EQ(out.json()["n"], 7);
}

TEST(Sdk, QueryDecodingRejectsBrokenEscapes) {
  EXPECT_EQ(plexus::Request::decode("a%41"), "aA");
  EXPECT_THROW(plexus::Request::decode("a%4"), plexus::BadRequest);
  EXPECT_THROW(plexus::Request::decode("%zz"), plexus::BadRequest);
}

TEST(Sdk, CounterNamesMustEndInTotal) {
  FakeHost host;
  plexus::testing::FakeHost* h = &host;
  (void)h;
  struct Bad final : plexus::Receptor {
    explicit Bad(plexus::Host& host) : m(host.counter("no_suffix", "x")) {}
    plexus::Result handle(plexus::Context&, const plexus::Message&) override {
      return plexus::ok();
    }
    plexus::Metric m;
  };
  EXPECT_THROW(host.create<Bad>(), std::runtime_error);
}

}  // namespace
