#include "observability/otlp_exporter.hpp"

#include "observability/metrics.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

namespace {

using namespace plexus;
using nlohmann::json;

otlp::Getenv env(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

std::string attr(const std::vector<trace::Attribute>& attrs, const std::string& key) {
  for (const auto& a : attrs) {
    if (a.key == key) return std::get<std::string>(a.value);
  }
  return "<missing>";
}

TEST(OtlpConfig, DisabledWithoutAnEndpoint) {
  std::string error;
  EXPECT_FALSE(otlp::fromEnvironment(env({}), "order-service", {}, error));
  EXPECT_EQ(error, "");
  EXPECT_FALSE(otlp::fromEnvironment(
      env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_SDK_DISABLED", "true"}}), "s",
      {}, error));
  EXPECT_EQ(error, "");
  EXPECT_FALSE(otlp::fromEnvironment(
      env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_TRACES_EXPORTER", "none"}}),
      "s", {}, error));
  EXPECT_EQ(error, "");
}

TEST(OtlpConfig, EndpointGetsTheSignalPathAndTheTracesEndpointIsUsedAsIs) {
  std::string error;
  auto c = otlp::fromEnvironment(env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}}),
                                 "order-service", {}, error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->url, "http://collector:4318/v1/traces");
  c = otlp::fromEnvironment(env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}}), "s",
                            {}, error);
  EXPECT_EQ(c->url, "http://collector:4318/v1/traces");
  c = otlp::fromEnvironment(env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"},
                                 {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://x:9/custom"}}),
                            "s", {}, error);
  EXPECT_EQ(c->url, "http://x:9/custom");
}

TEST(OtlpConfig, HeadersResourceAndServiceName) {
  std::string error;
  auto c = otlp::fromEnvironment(
      env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
           {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, x-tenant=t1"},
           {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=t2"},
           {"OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=prod,service.name=from-attrs,service.version=9"}}),
      "order-service", {{"service.version", std::string("0.1.0")}}, error);
  ASSERT_TRUE(c) << error;
  ASSERT_EQ(c->headers.size(), 2u);
  EXPECT_EQ(c->headers[0], (std::pair<std::string, std::string>{"api-key", "a b"}));
  EXPECT_EQ(c->headers[1], (std::pair<std::string, std::string>{"x-tenant", "t2"}));
  EXPECT_EQ(c->resource[0].key, "service.name");
  EXPECT_EQ(attr(c->resource, "service.name"), "from-attrs");
  EXPECT_EQ(attr(c->resource, "service.version"), "9");  // the variable wins over the default
  EXPECT_EQ(attr(c->resource, "deployment.environment"), "prod");

  c = otlp::fromEnvironment(env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                                 {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"},
                                 {"OTEL_SERVICE_NAME", "from-var"}}),
                            "order-service", {}, error);
  EXPECT_EQ(attr(c->resource, "service.name"), "from-var");
  c = otlp::fromEnvironment(env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}}),
                            "order-service", {}, error);
  EXPECT_EQ(attr(c->resource, "service.name"), "order-service");
}

TEST(OtlpConfig, BadValuesAreNamed) {
  std::string error;
  const std::map<std::string, std::string> base{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}};
  auto with = [&](const std::string& k, const std::string& v) {
    auto m = base;
    m[k] = v;
    return env(m);
  };
  EXPECT_FALSE(
      otlp::fromEnvironment(with("OTEL_EXPORTER_OTLP_HEADERS", "novalue"), "s", {}, error));
  EXPECT_NE(error.find("OTEL_EXPORTER_OTLP_HEADERS: 'novalue' is not key=value"),
            std::string::npos);
  EXPECT_FALSE(otlp::fromEnvironment(with("OTEL_RESOURCE_ATTRIBUTES", "a=%zz"), "s", {}, error));
  EXPECT_NE(error.find("OTEL_RESOURCE_ATTRIBUTES"), std::string::npos);
  EXPECT_FALSE(otlp::fromEnvironment(with("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), "s", {}, error));
  EXPECT_NE(error.find("http/json"), std::string::npos);
  EXPECT_FALSE(otlp::fromEnvironment(with("OTEL_BSP_MAX_QUEUE_SIZE", "-3"), "s", {}, error));
  EXPECT_NE(error.find("OTEL_BSP_MAX_QUEUE_SIZE"), std::string::npos);
  EXPECT_FALSE(
      otlp::fromEnvironment(env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://c"}}), "s", {}, error));
  EXPECT_NE(error.find("must be an http:// URL"), std::string::npos);
  EXPECT_FALSE(otlp::fromEnvironment(with("OTEL_TRACES_EXPORTER", "zipkin"), "s", {}, error));
}

TEST(OtlpJson, FollowsTheProtobufJsonMapping) {
  trace::SpanData s;
  s.name = "handle CreateOrder";
  s.kind = trace::SpanKind::Producer;
  s.context = *trace::parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  s.parentSpanId = {1, 2, 3, 4, 5, 6, 7, 8};
  s.startUnixNano = 1795710166736440746ull;
  s.endUnixNano = 1795710166736851149ull;
  s.attributes = {{"plexus.plugin", std::string("orders")},
                  {"http.response.status_code", int64_t{201}},
                  {"db.rolled_back", true}};
  s.status = trace::StatusCode::Error;
  s.statusMessage = "no stock";
  trace::SpanData root;
  root.name = "root";
  root.context =
      *trace::parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01");

  const json body = json::parse(otlp::encode({s, root}, {{"service.name", std::string("svc")}}));
  const json& rs = body["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"][0],
            json::parse(R"({"key":"service.name","value":{"stringValue":"svc"}})"));
  const json& span = rs["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["name"], "plexus-host");
  EXPECT_EQ(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(span["spanId"], "00f067aa0ba902b7");
  EXPECT_EQ(span["parentSpanId"], "0102030405060708");
  EXPECT_EQ(span["kind"], 4);
  EXPECT_EQ(span["startTimeUnixNano"], "1795710166736440746");  // 64-bit: a string
  EXPECT_EQ(span["endTimeUnixNano"], "1795710166736851149");
  EXPECT_EQ(span["attributes"][1]["value"], json::parse(R"({"intValue":"201"})"));
  EXPECT_EQ(span["attributes"][2]["value"], json::parse(R"({"boolValue":true})"));
  EXPECT_EQ(span["status"], json::parse(R"({"code":2,"message":"no stock"})"));
  const json& r = rs["scopeSpans"][0]["spans"][1];
  EXPECT_FALSE(r.contains("parentSpanId"));  // a root has none
  EXPECT_EQ(r["status"], json::parse(R"({"code":0})"));
}

TEST(OtlpExporter, AFullQueueDropsAndCountsWithoutBlocking) {
  Metrics metrics;
  otlp::Config c;
  c.url = "http://127.0.0.1:9/v1/traces";
  c.maxQueue = 2;
  c.maxBatch = 2;
  otlp::Exporter e(c, &metrics);  // not started: nothing drains the queue
  EXPECT_TRUE(e.enqueue(trace::SpanData{}));
  EXPECT_TRUE(e.enqueue(trace::SpanData{}));
  EXPECT_FALSE(e.enqueue(trace::SpanData{}));
  EXPECT_FALSE(e.enqueue(trace::SpanData{}));
  EXPECT_EQ(e.dropped(), 2u);
  const std::string text = metrics.scrape();
  EXPECT_NE(text.find("plexus_trace_spans_dropped_total{reason=\"queue_full\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("plexus_trace_spans_exported_total 0"), std::string::npos);
}

}  // namespace
