// Traces over OTLP/HTTP (JSON) into a receiver inside this test process:
// - one order placed on the seven deployments (real PostgreSQL + RabbitMQ from scripts/services,
//   schemas of their own) is one trace across the services, with valid parent/child links and the
//   documented span names and attributes;
// - an exporter whose endpoint is down or slow never holds up a request, and counts its drops.
#include "support.hpp"

#include <plexus/abi/plugin_abi.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "store/store.hpp"

namespace {

using nlohmann::json;
using plexus::test::HostProcess;
using plexus::test::http;

bool eventually(const std::function<bool()>& condition, int timeoutMs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a bounded condition
  }
  return condition();
}

struct Span {
  std::string service;
  std::string traceId, spanId, parentSpanId, name;
  int kind = 0;
  uint64_t start = 0, end = 0;
  int statusCode = 0;
  std::map<std::string, std::string> attributes;  // every value as text
};

// A local OTLP/HTTP receiver: POST /v1/traces with a JSON ExportTraceServiceRequest.
class OtlpReceiver {
 public:
  explicit OtlpReceiver(int delayMs = 0) : delayMs_(delayMs) {
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(8);
    server_ = std::make_unique<Poco::Net::HTTPServer>(
        new Factory(*this), Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)),
        params);
    server_->start();
  }
  // A handler may still run (the slow collector sleeps) after stopAll, which does not wait for
  // its threads: wait for them, as they use this object.
  ~OtlpReceiver() {
    server_->stopAll(true);
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this] { return active_ == 0; });
  }
  int port() const { return server_->port(); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port()); }
  int requests() const { return requests_.load(); }
  std::vector<Span> spans() const {
    std::lock_guard<std::mutex> lock(mu_);
    return spans_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

 private:
  struct Active {  // a handler running: counted so that the destructor can wait for it
    explicit Active(OtlpReceiver& r) : r_(r) {
      std::lock_guard<std::mutex> lock(r_.mu_);
      ++r_.active_;
    }
    ~Active() {
      std::lock_guard<std::mutex> lock(r_.mu_);
      if (--r_.active_ == 0) r_.idle_.notify_all();
    }
    OtlpReceiver& r_;
  };
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(OtlpReceiver& r) : r_(r) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& resp) override {
      Active active(r_);
      std::string body((std::istreambuf_iterator<char>(req.stream())),
                       std::istreambuf_iterator<char>());
      ++r_.requests_;
      if (r_.delayMs_ > 0) {
        // The slow collector of the back-pressure test: the delay IS the behaviour under test.
        std::this_thread::sleep_for(std::chrono::milliseconds(r_.delayMs_));
      }
      int status = 200;
      if (req.getMethod() != "POST" || req.getURI() != "/v1/traces" ||
          req.getContentType().find("application/json") != 0) {
        status = 404;
        r_.error("unexpected " + req.getMethod() + " " + req.getURI() + " " + req.getContentType());
      } else {
        r_.accept(body);
      }
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
      resp.setContentType("application/json");
      resp.send() << "{}";
    }

   private:
    OtlpReceiver& r_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(OtlpReceiver& r) : r_(r) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(r_);
    }

   private:
    OtlpReceiver& r_;
  };

  void error(const std::string& e) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(e);
  }

  // Strict about the encoding: a field of the wrong JSON type is recorded as an error.
  void accept(const std::string& body) {
    const json j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("resourceSpans")) return error("not an OTLP request");
    std::vector<Span> got;
    for (const auto& rs : j["resourceSpans"]) {
      std::string service;
      for (const auto& a : rs["resource"]["attributes"]) {
        if (a["key"] == "service.name") service = a["value"]["stringValue"];
      }
      for (const auto& ss : rs["scopeSpans"]) {
        for (const auto& s : ss["spans"]) {
          Span sp;
          sp.service = service;
          if (!s["traceId"].is_string() || !s["spanId"].is_string() ||
              !s["startTimeUnixNano"].is_string() || !s["endTimeUnixNano"].is_string() ||
              !s["kind"].is_number_integer()) {
            return error("span fields of the wrong type: " + s.dump());
          }
          sp.traceId = s["traceId"];
          sp.spanId = s["spanId"];
          sp.parentSpanId = s.value("parentSpanId", "");
          sp.name = s["name"];
          sp.kind = s["kind"];
          sp.start = std::stoull(s["startTimeUnixNano"].get<std::string>());
          sp.end = std::stoull(s["endTimeUnixNano"].get<std::string>());
          sp.statusCode = s["status"].value("code", 0);
          for (const auto& a : s["attributes"]) {
            const json& v = a["value"];
            std::string text;
            if (v.contains("stringValue")) text = v["stringValue"];
            if (v.contains("intValue")) text = v["intValue"];  // a string in OTLP JSON
            if (v.contains("boolValue")) text = v["boolValue"].get<bool>() ? "true" : "false";
            sp.attributes[a["key"]] = text;
          }
          got.push_back(std::move(sp));
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    spans_.insert(spans_.end(), got.begin(), got.end());
  }

  const int delayMs_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::atomic<int> requests_{0};
  mutable std::mutex mu_;
  std::condition_variable idle_;
  int active_ = 0;  // handlers running (guarded by mu_)
  std::vector<Span> spans_;
  std::vector<std::string> errors_;
};

std::string randomHex(size_t bytes) {
  static std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream out;
  for (size_t i = 0; i < bytes; ++i)
    out << std::hex << std::setw(2) << std::setfill('0') << (rng() & 0xff);
  return out.str();
}

double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

std::string promtool(const std::string& metricsText) {
  plexus::test::TempDir dir;
  const std::string file = dir.write("metrics.txt", metricsText);
  FILE* p = popen(("promtool check metrics < " + file + " 2>&1").c_str(), "r");
  if (p == nullptr) return "cannot run promtool";
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int rc = pclose(p);
  return rc == 0 ? std::string() : "promtool exit " + std::to_string(rc) + ":\n" + out;
}

// The span tree of one trace with start offsets and durations, for the test output.
std::string tree(const std::vector<Span>& spans, const std::string& clientSpan) {
  std::map<std::string, std::vector<const Span*>> children;
  uint64_t t0 = UINT64_MAX;
  for (const auto& s : spans) {
    children[s.parentSpanId].push_back(&s);
    t0 = std::min(t0, s.start);
  }
  for (auto& [k, v] : children) {
    std::sort(v.begin(), v.end(), [](const Span* a, const Span* b) { return a->start < b->start; });
  }
  std::ostringstream out;
  std::function<void(const Span&, int)> print = [&](const Span& s, int depth) {
    out << std::string(static_cast<size_t>(depth) * 2, ' ') << s.name << "  [" << s.service << "]"
        << std::fixed << std::setprecision(1) << "  +" << static_cast<double>(s.start - t0) / 1e6
        << " ms  " << static_cast<double>(s.end - s.start) / 1e6 << " ms";
    auto c = s.attributes.find("plexus.component");
    if (c != s.attributes.end())
      out << "  " << s.attributes.at("plexus.plugin") << "/" << c->second;
    auto o = s.attributes.find("plexus.outcome");
    if (o != s.attributes.end()) out << "  outcome=" << o->second;
    auto st = s.attributes.find("http.response.status_code");
    if (st != s.attributes.end()) out << "  status=" << st->second;
    out << "\n";
    for (const Span* k : children[s.spanId]) print(*k, depth + 1);
  };
  for (const Span* root : children[clientSpan]) print(*root, 0);
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// One order, seven deployments, one trace.

class DistributedTrace : public ::testing::Test {
 protected:
  // An exception out of SetUpTestSuite would show as "skipped"; it fails every test instead.
  static void SetUpTestSuite() {
    try {
      startSystem();
    } catch (const std::exception& e) {
      skip_ = std::string("the system did not start: ") + e.what();
    }
  }
  static void startSystem() {
    const char* pg = std::getenv("PLEXUS_PG_URL");
    const char* amqp = std::getenv("PLEXUS_AMQP_URL");
    if (pg == nullptr || amqp == nullptr) {
      skip_ = "PLEXUS_PG_URL / PLEXUS_AMQP_URL not set (eval \"$(scripts/services env)\")";
      return;
    }
    receiver_ = new OtlpReceiver();
    dir_ = new plexus::test::TempDir();
    // Every deployment in a schema of its own (tracing_<schema>), so this suite never touches the
    // data of the e2e tier; the broker names stay the deployments' own (the suite runs serially).
    plexus::config::Store sc;
    sc.kind = "postgresql";
    sc.url = pg;
    auto db = plexus::store::Store::open(sc, 1);
    std::map<std::string, std::string> env{
        {"PLEXUS_HTTP_PORT", "0"},
        {"PLEXUS_PLUGIN_DIR", PLEXUS_PLUGIN_DIR},
        {"PLEXUS_PG_URL", pg},
        {"PLEXUS_AMQP_URL", amqp},
        {"PLEXUS_LOG_LEVEL", "info"},
        {"PLEXUS_SMTP_HOST", "127.0.0.1"},
        {"PLEXUS_SMTP_PORT", "9"},  // nothing listens: logged
        {"OTEL_EXPORTER_OTLP_ENDPOINT", receiver_->endpoint()},
        {"OTEL_BSP_SCHEDULE_DELAY", "100"},
        {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"}};
    for (const auto& s : kServices) {
      std::ifstream in(std::string(PLEXUS_SOURCE_DIR) + "/config/" + s + ".json");
      json cfg = json::parse(in);
      const std::string schema = "tracing_" + cfg["store"]["schema"].get<std::string>();
      cfg["store"]["schema"] = schema;
      auto tx = db->begin();
      tx->exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
      tx->commit();
      const std::string path = dir_->write(s + ".json", cfg.dump(2));
      auto r = plexus::test::runHost({"migrate", "--config", path}, env);
      if (r.exitCode != 0) {
        skip_ = "migrate " + s + " failed: " + r.err;
        return;
      }
    }
    for (const auto& s : kServices) {
      hosts_[s] = new HostProcess(dir_->file(s + ".json"), env);
    }
    for (const auto& [name, h] : hosts_) {
      const int port = h->port();
      if (!eventually(
              [port] {
                auto r = http(port, "GET", "/health/ready");
                return r.status == 200 &&
                       r.body.find("\"broker\":\"connected\"") != std::string::npos;
              },
              60000)) {
        skip_ = name + " did not become ready:\n" + h->output();
        return;
      }
    }
  }
  static void TearDownTestSuite() {
    for (auto& [name, h] : hosts_) delete h;
    hosts_.clear();
    delete receiver_;
    delete dir_;
  }
  void SetUp() override {
    if (!skip_.empty()) FAIL() << skip_;
  }

  static int port(const std::string& service) { return hosts_.at(service)->port(); }

  static inline const std::vector<std::string> kServices{
      "order-service",   "customer-service",    "inventory-worker", "payment-worker",
      "shipping-worker", "notification-worker", "analytics-worker"};
  static inline std::string skip_;
  static inline OtlpReceiver* receiver_ = nullptr;
  static inline plexus::test::TempDir* dir_ = nullptr;
  static inline std::map<std::string, HostProcess*> hosts_;
};

TEST_F(DistributedTrace, OneOrderIsOneTraceAcrossServicesWithValidLinks) {
  const std::string product = "trace-sku-" + randomHex(4);
  auto stocked = http(port("inventory-worker"), "PUT", "/api/inventory/" + product,
                      json{{"availableStock", 5}}.dump());
  ASSERT_TRUE(stocked.status == 200 || stocked.status == 201) << stocked.body;

  // The client's own trace context: the whole saga must continue this trace.
  const std::string traceId = randomHex(16);
  const std::string clientSpan = randomHex(8);
  const json order{{"customerId", "trace-customer-" + randomHex(4)},
                   {"items", json::array({json{{"productId", product},
                                               {"productName", "Traced"},
                                               {"quantity", 1},
                                               {"unitPrice", 12.5}}})},
                   {"paymentMethod", "card"},
                   {"shippingAddress",
                    {{"street", "1 Main St"},
                     {"city", "Springfield"},
                     {"state", "IL"},
                     {"zipCode", "62701"},
                     {"country", "US"}}}};
  auto placed = http(port("order-service"), "POST", "/api/orders", order.dump(),
                     {{"traceparent", "00-" + traceId + "-" + clientSpan + "-01"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  const std::string orderId = json::parse(placed.body)["orderId"];

  auto ofTrace = [&] {
    std::vector<Span> out;
    for (auto& s : receiver_->spans()) {
      if (s.traceId == traceId) out.push_back(std::move(s));
    }
    return out;
  };
  auto has = [](const std::vector<Span>& spans, const std::string& service,
                const std::string& name) {
    return std::any_of(spans.begin(), spans.end(),
                       [&](const Span& s) { return s.service == service && s.name == name; });
  };
  // Done when the saga completed, every span's parent has arrived and every consume span has
  // its handlers (spans are exported in batches after they end: the tree fills in over time).
  std::vector<Span> spans;
  const bool complete = eventually(
      [&] {
        spans = ofTrace();
        std::set<std::string> ids;
        std::map<std::string, int> handles;  // consume span id -> handler spans under it
        for (const auto& s : spans) {
          ids.insert(s.spanId);
          if (s.name.rfind("handle ", 0) == 0) ++handles[s.parentSpanId];
        }
        bool sagaDone = false;
        for (const auto& s : spans) {
          if (s.parentSpanId != clientSpan && ids.count(s.parentSpanId) == 0) return false;
          if (s.name.rfind("consume ", 0) == 0 &&
              handles[s.spanId] != std::stoi(s.attributes.at("plexus.handlers"))) {
            return false;
          }
          sagaDone |= s.name == "handle ShipmentCreated" && s.service == "order-service" &&
                      s.attributes.at("plexus.component") == "OrderSaga";
        }
        return sagaDone && has(spans, "order-service", "HTTP POST /api/orders") &&
               has(spans, "inventory-worker", "handle ReserveInventory") &&
               has(spans, "payment-worker", "handle ProcessPayment") &&
               has(spans, "shipping-worker", "handle CreateShipment");
      },
      60000);
  std::cout << "\nspan tree of order " << orderId << " (trace " << traceId << ", " << spans.size()
            << " spans):\n"
            << tree(spans, clientSpan) << std::endl;
  ASSERT_TRUE(complete) << "trace incomplete after 60 s; spans received in all: "
                        << receiver_->spans().size();
  EXPECT_TRUE(receiver_->errors().empty()) << receiver_->errors().front();

  std::map<std::string, const Span*> byId;
  std::set<std::string> services;
  for (const auto& s : spans) {
    EXPECT_TRUE(byId.emplace(s.spanId, &s).second) << "duplicate span id " << s.spanId;
    services.insert(s.service);
    EXPECT_LE(s.start, s.end) << s.name;
  }
  EXPECT_GE(services.size(), 3u);
  for (const char* s : {"order-service", "inventory-worker", "payment-worker", "shipping-worker"})
    EXPECT_EQ(services.count(s), 1u) << s;

  // The root continues the client's context; it is the server span of the request.
  const Span* root = nullptr;
  for (const auto& s : spans) {
    if (s.parentSpanId == clientSpan) {
      EXPECT_EQ(root, nullptr) << "two spans claim the client span as parent";
      root = &s;
    }
  }
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->name, "HTTP POST /api/orders");
  EXPECT_EQ(root->kind, 2);  // SERVER
  EXPECT_EQ(root->attributes.at("http.route"), "/api/orders");
  EXPECT_EQ(root->attributes.at("http.response.status_code"), "201");
  EXPECT_EQ(root->service, "order-service");

  auto parentOf = [&](const Span& s) -> const Span* {
    auto it = byId.find(s.parentSpanId);
    return it == byId.end() ? nullptr : it->second;
  };
  // Every span descends from the root and starts no earlier than its parent... across hosts the
  // clocks are the same machine's, so this holds exactly here.
  for (const auto& s : spans) {
    const Span* p = &s;
    int hops = 0;
    while (p != root && p != nullptr && hops++ < 100) p = parentOf(*p);
    EXPECT_EQ(p, root) << s.name << " [" << s.service << "] does not descend from the root";
    if (const Span* parent = parentOf(s)) {
      EXPECT_GE(s.start, parent->start) << s.name;
    }
  }

  for (const auto& s : spans) {
    const Span* parent = parentOf(s);
    if (s.name.rfind("handle ", 0) == 0) {
      EXPECT_EQ(s.kind, 1) << s.name;
      EXPECT_EQ(s.attributes.at("messaging.message.type"), s.name.substr(7));
      EXPECT_FALSE(s.attributes.at("plexus.plugin").empty());
      EXPECT_FALSE(s.attributes.at("plexus.component").empty());
      EXPECT_EQ(s.attributes.count("plexus.outcome"), 1u) << s.name;
    }
    if (s.name.rfind("outbox publish ", 0) == 0) {
      EXPECT_EQ(s.kind, 4) << s.name;  // PRODUCER
      ASSERT_NE(parent, nullptr);
      // Published by the service whose handler (or route) wrote the row.
      EXPECT_EQ(parent->service, s.service) << s.name;
      EXPECT_TRUE(parent->name.rfind("handle ", 0) == 0 || parent->name.rfind("HTTP ", 0) == 0)
          << s.name << " under " << parent->name;
    }
    if (s.name.rfind("consume ", 0) == 0) {
      EXPECT_EQ(s.kind, 5) << s.name;  // CONSUMER
      ASSERT_NE(parent, nullptr);
      EXPECT_EQ(parent->name, "outbox publish " + s.name.substr(8)) << "consumer linked via AMQP";
    }
    if (s.name == "db.transaction") {
      ASSERT_NE(parent, nullptr);
      EXPECT_EQ(parent->service, s.service);
      EXPECT_EQ(s.attributes.at("db.system"), "postgresql");
    }
  }

  // The hops of the happy path, each a handler under a consume under a publish.
  auto find = [&](const std::string& service, const std::string& name) -> const Span* {
    for (const auto& s : spans) {
      if (s.service == service && s.name == name) return &s;
    }
    return nullptr;
  };
  const Span* create = find("order-service", "handle CreateOrder");
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(create->attributes.at("plexus.plugin"), "orders");
  EXPECT_EQ(create->attributes.at("plexus.outcome"), "ok");
  ASSERT_NE(parentOf(*create), nullptr);
  EXPECT_EQ(parentOf(*create)->name, "db.transaction");  // the route's transaction
  EXPECT_EQ(parentOf(*parentOf(*create)), root);
  for (const auto& [service, type] :
       std::vector<std::pair<std::string, std::string>>{{"inventory-worker", "ReserveInventory"},
                                                        {"payment-worker", "ProcessPayment"},
                                                        {"shipping-worker", "CreateShipment"}}) {
    const Span* h = find(service, "handle " + type);
    ASSERT_NE(h, nullptr) << type;
    EXPECT_EQ(h->attributes.at("plexus.outcome"), "ok") << type;
    const Span* consume = parentOf(*h);
    ASSERT_NE(consume, nullptr) << type;
    EXPECT_EQ(consume->name, "consume " + type);
    EXPECT_EQ(consume->service, service);
    const Span* publish = parentOf(*consume);
    ASSERT_NE(publish, nullptr) << type;
    EXPECT_EQ(publish->service, "order-service") << type << " is sent by the saga";
    bool txChild = false;
    for (const auto& s : spans)
      txChild |= s.parentSpanId == h->spanId && s.name == "db.transaction";
    EXPECT_TRUE(txChild) << "handle " << type << " has its db.transaction";
  }

  // The ids are in the JSON log lines written while handling (the saga logs every step).
  const std::string sagaLog = hosts_.at("order-service")->output();
  EXPECT_NE(sagaLog.find("\"trace_id\":\"" + traceId + "\""), std::string::npos);
  const Span* sagaStep = find("order-service", "handle InventoryReserved");
  ASSERT_NE(sagaStep, nullptr);
  EXPECT_NE(sagaLog.find("\"span_id\":\"" + sagaStep->spanId + "\""), std::string::npos);
}

TEST_F(DistributedTrace, MetricsOfATracingHostPassPromtool) {
  auto m = http(port("order-service"), "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  for (const char* series :
       {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
        "process_max_fds", "process_threads", "process_start_time_seconds",
        "process_virtual_memory_bytes", "plexus_trace_spans_exported_total"}) {
    EXPECT_GE(metric(m.body, series), 0) << series;
  }
  const std::string abi = std::to_string(PLEXUS_ABI_MAJOR) + "." + std::to_string(PLEXUS_ABI_MINOR);
  EXPECT_EQ(metric(m.body,
                   "plexus_build_info{abi_version=\"" + abi + "\",version=\"" PLEXUS_VERSION "\"}"),
            1);
  EXPECT_EQ(metric(m.body, "plexus_plugin_info{plugin=\"orders\",version=\"1.0.0\"}"), 1);
  EXPECT_EQ(metric(m.body, "plexus_plugin_info{plugin=\"order_saga\",version=\"1.0.0\"}"), 1);
  EXPECT_EQ(metric(m.body, "plexus_trace_spans_dropped_total{reason=\"queue_full\"}"), 0);
  EXPECT_EQ(promtool(m.body), "");
}

// ---------------------------------------------------------------------------------------------
// Back-pressure: three echo hosts in the same run, without an exporter, with its endpoint down
// and with a slow endpoint; requests go to them in turn so the machine's load hits all alike.

TEST(TracingBackPressure, ADownOrSlowCollectorNeverHoldsUpRequests) {
  plexus::test::TempDir dir;
  const std::string config =
      dir.write("echo.json", json{{"service", "trace-echo"},
                                  {"http", {{"port", "${PLEXUS_HTTP_PORT:-0}"}}},
                                  {"plugin_dir", PLEXUS_PLUGIN_DIR},
                                  {"plugins", json::array({json{{"library", "plexus_echo.so"}}})}}
                                 .dump());
  int downPort = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    downPort = probe.address().port();
  }  // closed again: connections to it are refused
  constexpr int kSlowMs = 1500;
  OtlpReceiver slow(kSlowMs);
  const std::map<std::string, std::string> common{{"PLEXUS_HTTP_PORT", "0"},
                                                  {"OTEL_BSP_SCHEDULE_DELAY", "20"},
                                                  {"OTEL_BSP_MAX_QUEUE_SIZE", "32"},
                                                  {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "8"},
                                                  {"OTEL_EXPORTER_OTLP_TIMEOUT", "5000"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    extra.insert(common.begin(), common.end());
    return extra;
  };
  HostProcess none(config, with({{"OTEL_SDK_DISABLED", "true"}}));
  HostProcess down(
      config,
      with({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + std::to_string(downPort)}}));
  HostProcess slowHost(config, with({{"OTEL_EXPORTER_OTLP_ENDPOINT", slow.endpoint()}}));

  std::vector<HostProcess*> hosts{&none, &down, &slowHost};
  std::vector<std::vector<double>> ms(3);
  const std::string body = json{{"message", "back-pressure"}}.dump();
  for (int i = 0; i < 300; ++i) {
    for (size_t h = 0; h < hosts.size(); ++h) {
      const auto t = std::chrono::steady_clock::now();
      auto r = http(hosts[h]->port(), "POST", "/api/echo", body);
      ms[h].push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
      ASSERT_EQ(r.status, 200) << r.body;
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  auto max = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
  std::cout << "request latency, median / max (ms): no exporter " << median(ms[0]) << " / "
            << max(ms[0]) << "; endpoint down " << median(ms[1]) << " / " << max(ms[1])
            << "; endpoint slow (" << kSlowMs << " ms per export) " << median(ms[2]) << " / "
            << max(ms[2]) << std::endl;
  // Requests never wait for an export: not one took as long as a single slow export, and the
  // typical request costs about what it costs without tracing.
  EXPECT_LT(max(ms[2]), kSlowMs);
  EXPECT_LT(median(ms[1]), 3 * median(ms[0]) + 1.0);
  EXPECT_LT(median(ms[2]), 3 * median(ms[0]) + 1.0);

  // ... and what could not be exported is counted.
  auto dropped = [](int port, const std::string& reason) {
    return metric(http(port, "GET", "/metrics").body,
                  "plexus_trace_spans_dropped_total{reason=\"" + reason + "\"}");
  };
  EXPECT_TRUE(eventually([&] { return dropped(down.port(), "export_failed") > 0; }, 10000));
  EXPECT_GT(dropped(slowHost.port(), "queue_full"), 0);
  EXPECT_LT(metric(http(none.port(), "GET", "/metrics").body, "plexus_trace_spans_dropped_total"),
            0);                   // no exporter, no exporter metrics
  EXPECT_GT(slow.requests(), 0);  // the slow receiver did get batches
}

}  // namespace
