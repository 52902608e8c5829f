// The RabbitMQ transport with real PostgreSQL and RabbitMQ (scripts/services): two replicas of one
// deployment compete for its partition queues; per-stream order and exactly-once effects hold,
// also when a replica is killed with SIGKILL mid-stream.
#include "store/store.hpp"
#include "support.hpp"
#include "transport/amqp.hpp"
#include "transport/cloudevents.hpp"
#include "transport/topology.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

namespace {

using nlohmann::json;
using plexus::test::HostProcess;
using plexus::test::http;

bool eventually(const std::function<bool()>& condition, int timeoutMs = 60000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a bounded condition
  }
  return condition();
}

class Replicas : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* pg = std::getenv("PLEXUS_PG_URL");
    const char* amqp = std::getenv("PLEXUS_AMQP_URL");
    ASSERT_NE(pg, nullptr) << "start scripts/services first";
    ASSERT_NE(amqp, nullptr);
    const std::string id = std::to_string(::getpid()) + "_" + std::to_string(++counter_);
    service_ = "rt-" + std::to_string(::getpid()) + "-" + std::to_string(counter_);
    schema_ = "rt_" + id;
    config_ = writeConfig("replica.json", "");
    auto r = plexus::test::runHost({"migrate", "--config", config_});
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }
  // The deployment's config; `transport`: more keys of the transport object (",\"k\": v" ...).
  std::string writeConfig(const std::string& name, const std::string& transport) {
    return dir_.write(name, R"({"service": ")" + service_ + R"(",
      "http": {"host": "127.0.0.1", "port": 0, "shutdown_delay_ms": 0},
      "store": {"kind": "postgres", "url": ")" +
                                std::string(std::getenv("PLEXUS_PG_URL")) + R"(", "schema": ")" +
                                schema_ + R"("},
      "transport": {"kind": "rabbitmq", "url": ")" +
                                std::string(std::getenv("PLEXUS_AMQP_URL")) +
                                R"(", "retry_initial_ms": 50,
                    "partitions": 4, "poll_interval_ms": 200)" +
                                transport + R"(},
      "plugins": [{"library": ")" +
                                plexus::test::testPlugin("testkit") + R"("}]})");
  }
  void TearDown() override {
    plexus::config::Store sc;
    sc.kind = "postgresql";
    sc.url = std::getenv("PLEXUS_PG_URL");
    auto db = plexus::store::Store::open(sc, 1);
    auto tx = db->begin();
    tx->exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    tx->commit();
  }
  std::unique_ptr<HostProcess> start(const std::string& config = "") {
    auto h = std::make_unique<HostProcess>(
        config.empty() ? config_ : config,
        std::map<std::string, std::string>{{"PLEXUS_LOG_LEVEL", "info"}});
    const int port = h->port();
    EXPECT_TRUE(eventually([port] {
      return http(port, "GET", "/health/ready").body.find("\"broker\":\"connected\"") !=
             std::string::npos;
    }));
    return h;
  }
  static json count(int port, const std::string& stream) {
    return json::parse(http(port, "GET", "/t/count/" + stream).body);
  }
  // Every stream saw 1..n exactly once, in the order the commands were sent.
  static bool complete(int port, const std::vector<std::string>& streams, int n) {
    for (const auto& s : streams) {
      if (count(port, s)["log"].size() != static_cast<size_t>(n)) return false;
    }
    return true;
  }

  static int counter_;
  plexus::test::TempDir dir_;
  std::string service_, schema_, config_;
};
int Replicas::counter_ = 0;

TEST_F(Replicas, TwoConsumersKeepPerStreamOrderAndHandleEachMessageOnce) {
  auto a = start();
  auto b = start();
  const std::vector<std::string> streams{"s1", "s2", "s3", "s4"};
  const int perStream = 15;
  for (int i = 1; i <= perStream; ++i) {
    for (const auto& s : streams) {
      ASSERT_EQ(http(a->port(), "POST", "/t/count", json{{"stream", s}, {"seq", i}}.dump()).status,
                202);
    }
  }
  ASSERT_TRUE(eventually([&] { return complete(a->port(), streams, perStream); }))
      << count(a->port(), "s1");
  for (const auto& s : streams) {
    const json log = count(b->port(), s)["log"];  // the same database from the other replica
    for (int i = 0; i < perStream; ++i)
      EXPECT_EQ(log[i], json::array({i + 1, i + 1})) << s << ": " << log;
    EXPECT_EQ(count(a->port(), s)["n"], perStream);
  }
  EXPECT_EQ(json::parse(http(a->port(), "GET", "/admin/dead-letters").body).size(), 0u);
}

// transport.consumers 3 over 4 partitions: consumer 1 takes p0 and p3, the others one each. Every
// partition is consumed (24 streams cover them all), each stream stays in order, and the health
// check names each connection's node.
TEST_F(Replicas, ConsumerConnectionsShareThePartitionsAndKeepPerStreamOrder) {
  auto h = start(writeConfig("three.json", R"(, "consumers": 3)"));
  const json ready = json::parse(http(h->port(), "GET", "/health/ready").body);
  for (const char* role : {"consumer", "consumer-2", "consumer-3", "publisher"})
    EXPECT_TRUE(ready["checks"]["broker_nodes"].contains(role)) << role << ": " << ready;
  std::vector<std::string> streams;
  for (int s = 0; s < 24; ++s) streams.push_back("c" + std::to_string(s));
  const int perStream = 5;
  for (int i = 1; i <= perStream; ++i) {
    for (const auto& s : streams) {
      ASSERT_EQ(http(h->port(), "POST", "/t/count", json{{"stream", s}, {"seq", i}}.dump()).status,
                202);
    }
  }
  ASSERT_TRUE(eventually([&] { return complete(h->port(), streams, perStream); }))
      << count(h->port(), "c0");
  for (const auto& s : streams) {
    const json log = count(h->port(), s)["log"];
    for (int i = 0; i < perStream; ++i)
      EXPECT_EQ(log[i], json::array({i + 1, i + 1})) << s << ": " << log;
  }
}

// transport.max_batch 1: messages already waiting in the queues when the host starts (which it
// would otherwise take as one batch) are still committed one per transaction.
TEST_F(Replicas, MaxBatchOneCommitsEachConsumedMessageInItsOwnTransaction) {
  {
    auto first = start();  // declares the deployment's queues
    first->signal(SIGTERM);
    ASSERT_TRUE(first->waitExit(30000).has_value());
  }
  plexus::transport::Amqp pub(std::getenv("PLEXUS_AMQP_URL"));
  pub.open(5000);
  pub.confirmSelect();
  const int n = 30;
  std::vector<std::string> streams;
  for (int i = 0; i < n; ++i) {
    plexus::Message m;
    m.id = "mb-" + service_ + "-" + std::to_string(i);
    m.kind = "command";
    m.type = "Count";
    m.stream = "mb" + std::to_string(i);
    m.source = "test";
    m.payload = json{{"stream", m.stream}, {"seq", 1}}.dump();
    pub.publish("plexus.commands", m.type, plexus::transport::toAmqp(m), m.payload);
    streams.push_back(m.stream);
  }
  pub.waitForConfirms(10000);
  auto h = start(writeConfig("one.json", R"(, "max_batch": 1)"));
  ASSERT_TRUE(eventually([&] { return complete(h->port(), streams, 1); }));
  // Each Count command and each Counted event it caused (handled by this host too): 2n.
  const std::string expected = "plexus_handler_transactions_total " + std::to_string(2 * n) + "\n";
  EXPECT_TRUE(eventually([&] {
    return http(h->port(), "GET", "/metrics").body.find(expected) != std::string::npos;
  })) << http(h->port(), "GET", "/metrics").body;
}

TEST_F(Replicas, AReplicaKilledMidStreamLosesNothingAndDuplicatesNothing) {
  auto a = start();  // first consumer: the active one on every partition queue
  auto b = start();  // standby (single active consumer) until `a` goes away
  const std::vector<std::string> streams{"k1", "k2", "k3"};
  const int perStream = 20;
  for (int i = 1; i <= perStream; ++i) {
    for (const auto& s : streams) {
      ASSERT_EQ(http(b->port(), "POST", "/t/count", json{{"stream", s}, {"seq", i}}.dump()).status,
                202);
    }
    if (i == perStream / 2) a->signal(SIGKILL);  // the active consumer dies mid-stream
  }
  ASSERT_TRUE(a->waitExit(10000).has_value());
  auto c = start();  // a replacement replica joins; b and c take over a's queues and its claims
  // Claims of the dead instance expire after the lease (30 s), so allow for that.
  ASSERT_TRUE(eventually([&] { return complete(b->port(), streams, perStream); }, 120000))
      << count(b->port(), "k1") << count(b->port(), "k2") << count(b->port(), "k3");
  for (const auto& s : streams) {
    const json log = count(c->port(), s)["log"];
    for (int i = 0; i < perStream; ++i)
      EXPECT_EQ(log[i], json::array({i + 1, i + 1})) << s << ": " << log;
    EXPECT_EQ(count(c->port(), s)["n"], perStream);  // no effect applied twice
  }
}

// Publishes a Count command straight to the broker, as another service's relay would.
void publishCount(const std::string& id, const std::string& stream, int seq) {
  plexus::Message e;
  e.id = id;
  e.kind = "command";
  e.type = "Count";
  e.stream = stream;
  e.correlation = id;
  e.source = "integration-test";
  e.timestampMs = 1;
  e.payload = json{{"stream", stream}, {"seq", seq}}.dump();
  plexus::transport::Amqp amqp(std::getenv("PLEXUS_AMQP_URL"));
  amqp.open(5000);
  amqp.confirmSelect();
  amqp.publish("plexus.commands", "Count", plexus::transport::toAmqp(e), e.payload);
  amqp.waitForConfirms(5000);
}

// Runs a shell command; its standard output, and the exit code in `rc`.
std::string shell(const std::string& command, int& rc) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    rc = -1;
    return out;
  }
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// amqp-tools reads "amqp://h:p/" as the empty vhost; without the slash it is "/".
std::string amqpToolsUrl() {
  std::string url = std::getenv("PLEXUS_AMQP_URL");
  if (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

const std::string kForeign =
    std::string("/usr/bin/python3 ") + PLEXUS_SOURCE_DIR + "/tests/integration/foreign_client.py";

int services(const std::string& args) {
  return std::system(
      (std::string(PLEXUS_SOURCE_DIR) + "/scripts/services " + args + " >/dev/null 2>&1").c_str());
}

TEST_F(Replicas, TheSameMessageDeliveredTwiceByTheBrokerIsHandledOnce) {
  auto a = start();
  const std::string id = "00000000-0000-7000-8000-0000000000d1";
  publishCount(id, "dup", 1);
  publishCount(id, "dup", 1);  // a redelivery, as after a lost ack
  publishCount("00000000-0000-7000-8000-0000000000d2", "dup", 2);  // a later, different message
  ASSERT_TRUE(eventually([&] { return count(a->port(), "dup")["log"].size() == 2; }))
      << count(a->port(), "dup");
  EXPECT_EQ(count(a->port(), "dup")["n"], 2);
}

TEST_F(Replicas, ARelayKilledAfterCommitIsReplacedAndNothingIsLost) {
  auto a = start();
  auto b = start();
  for (int i = 1; i <= 10; ++i) {
    ASSERT_EQ(
        http(a->port(), "POST", "/t/count", json{{"stream", "relay"}, {"seq", i}}.dump()).status,
        202);
  }
  a->signal(SIGKILL);  // committed to the outbox; maybe published, maybe not
  ASSERT_TRUE(a->waitExit(10000).has_value());
  ASSERT_TRUE(eventually([&] { return complete(b->port(), {"relay"}, 10); }, 120000))
      << count(b->port(), "relay");
  EXPECT_EQ(count(b->port(), "relay")["n"], 10);
}

TEST_F(Replicas, NothingIsAckedBeforeCommitWhilePostgresIsDown) {
  auto a = start();
  ASSERT_EQ(services("stop postgres"), 0);
  publishCount("00000000-0000-7000-8000-0000000000e1", "pgdown",
               1);  // consumed, cannot be committed
  ASSERT_EQ(services("start postgres"), 0);
  // The command is handled once, and its event (published, consumed back) projected once.
  ASSERT_TRUE(eventually(
      [&] {
        const json c = count(a->port(), "pgdown");
        return c["n"] == 1 && c["log"].size() == 1;
      },
      120000))
      << count(a->port(), "pgdown");
}

TEST_F(Replicas, ABrokerRestartMidStreamLosesNothing) {
  auto a = start();
  for (int i = 1; i <= 5; ++i) {
    ASSERT_EQ(
        http(a->port(), "POST", "/t/count", json{{"stream", "bunny"}, {"seq", i}}.dump()).status,
        202);
  }
  ASSERT_EQ(services("stop rabbitmq"), 0);
  for (int i = 6; i <= 10; ++i) {  // accepted into the outbox while the broker is away
    ASSERT_EQ(
        http(a->port(), "POST", "/t/count", json{{"stream", "bunny"}, {"seq", i}}.dump()).status,
        202);
  }
  EXPECT_NE(http(a->port(), "GET", "/health/ready").body.find("degraded"), std::string::npos);
  ASSERT_EQ(services("start rabbitmq"), 0);
  ASSERT_TRUE(eventually([&] { return complete(a->port(), {"bunny"}, 10); }, 180000))
      << count(a->port(), "bunny");
  const json log = count(a->port(), "bunny")["log"];
  for (int i = 0; i < 10; ++i) EXPECT_EQ(log[i], json::array({i + 1, i + 1})) << log;
}

}  // namespace

// Interoperability (DESIGN.md §3, "Wire format"): clients that know nothing of Plexus publish
// commands it handles, and read the events it publishes, with CloudEvents over AMQP.
TEST_F(Replicas, ForeignClientsPublishAndConsumeCloudEvents) {
  auto host = start();
  const std::string url = std::getenv("PLEXUS_AMQP_URL");
  const std::string queue = "foreign." + service_;
  {
    plexus::transport::Amqp amqp(url);
    amqp.open(5000);
    amqp.declareQueue(queue, {{"x-expires", int64_t{600000}}});
    amqp.bindQueue(queue, "plexus.events", "Counted");
  }
  // amqp-publish (amqp-tools) can set headers only: the attributes travel as headers.
  int rc = 0;
  shell("amqp-publish -u " + quoted(amqpToolsUrl()) +
            " -e plexus.commands -r Count -p -C application/json"
            " -H 'cloudEvents_specversion: 1.0' -H 'cloudEvents_id: ext-" +
            service_ +
            "'"
            " -H 'cloudEvents_type: Count' -H 'cloudEvents_source: amqp-tools'"
            " -H 'cloudEvents_subject: f1' -H 'x-stream: f1' -b '{\"stream\": \"f1\", \"seq\": 1}'",
        rc);
  ASSERT_EQ(rc, 0) << "amqp-publish failed (apt-get install amqp-tools)";
  // pika in structured mode: attributes and data in one JSON document.
  const json event{{"specversion", "1.0"},
                   {"id", "pika-" + service_},
                   {"type", "Count"},
                   {"source", "pika"},
                   {"subject", "f2"},
                   {"time", "2026-01-01T00:00:00Z"},
                   {"data", {{"stream", "f2"}, {"seq", 2}}}};
  shell(kForeign + " publish-structured " + quoted(url) + " plexus.commands Count " +
            quoted(event.dump()),
        rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(eventually([&] {
    return count(host->port(), "f1")["n"] == 1 && count(host->port(), "f2")["n"] == 1;
  })) << count(host->port(), "f1")
      << count(host->port(), "f2");

  // What Plexus published, read by pika: CloudEvents binary mode, the payload as the body.
  const std::string lines = shell(kForeign + " consume " + quoted(url) + " " + queue + " 2 30", rc);
  ASSERT_EQ(rc, 0) << lines;
  std::set<std::string> subjects;
  std::istringstream in(lines);
  for (std::string line; std::getline(in, line);) {
    const json m = json::parse(line);
    EXPECT_EQ(m["properties"]["type"], "Counted") << line;
    EXPECT_EQ(m["properties"]["app_id"], service_) << line;
    EXPECT_EQ(m["properties"]["content_type"], "application/json") << line;
    EXPECT_EQ(m["properties"]["delivery_mode"], 2) << line;
    EXPECT_FALSE(m["properties"]["message_id"].get<std::string>().empty()) << line;
    EXPECT_EQ(m["headers"]["cloudEvents_specversion"], "1.0") << line;
    EXPECT_EQ(m["headers"]["cloudEvents_source"], service_) << line;
    EXPECT_EQ(m["headers"]["cloudEvents_plexuskind"], "event") << line;
    const std::string subject = m["headers"]["cloudEvents_subject"];
    subjects.insert(subject);
    // The causation is the command that was handled; the body is the emitted payload.
    EXPECT_EQ(m["headers"]["cloudEvents_causationid"],
              (subject == "f1" ? "ext-" : "pika-") + service_)
        << line;
    const json body = json::parse(m["body"].get<std::string>());
    EXPECT_EQ(body["seq"], subject == "f1" ? 1 : 2) << line;
    EXPECT_EQ(body["n"], 1) << line;
  }
  EXPECT_EQ(subjects, (std::set<std::string>{"f1", "f2"}));
}

TEST_F(Replicas, AMessageMissingARequiredAttributeIsDeadLetteredNamingIt) {
  auto host = start();
  int rc = 0;
  shell("amqp-publish -u " + quoted(amqpToolsUrl()) +
            " -e plexus.commands -r Count -p -C application/json"
            " -H 'cloudEvents_specversion: 1.0' -H 'cloudEvents_id: no-type-" +
            service_ +
            "'"
            " -H 'cloudEvents_source: amqp-tools' -H 'x-stream: nt' -b '{}'",
        rc);
  ASSERT_EQ(rc, 0);
  json letters;
  ASSERT_TRUE(eventually([&] {
    letters = json::parse(http(host->port(), "GET", "/admin/dead-letters").body);
    return letters.size() == 1;
  })) << letters;
  EXPECT_EQ(letters[0]["messageId"], "no-type-" + service_);
  EXPECT_EQ(letters[0]["handler"], "-");
  const std::string reason = letters[0]["reason"];
  EXPECT_NE(reason.find("'type'"), std::string::npos) << reason;
  EXPECT_EQ(count(host->port(), "nt")["n"], 0);
}

// transport.queue_type cannot change a queue the broker already has: the host refuses to start,
// naming the queue, both types and the migration procedure, instead of reconnecting forever. Both
// directions; the queues are declared the way a host of the other type would have.
TEST(QueueType, AQueueOfTheOtherTypeStopsTheStartNamingItAndTheMigration) {
  const char* pg = std::getenv("PLEXUS_PG_URL");
  const char* amqp = std::getenv("PLEXUS_AMQP_URL");
  ASSERT_NE(pg, nullptr) << "start scripts/services first";
  ASSERT_NE(amqp, nullptr);
  plexus::test::TempDir dir;
  for (const std::string existing : {"classic", "quorum"}) {
    const std::string wanted = existing == "classic" ? "quorum" : "classic";
    const std::string service = "it-queue-type-" + existing + "-" + std::to_string(::getpid());
    plexus::transport::Amqp broker(amqp);
    broker.open(5000);
    plexus::transport::TopologyOptions before;
    before.service = service;
    before.queueType = existing;
    broker.declareQueue(service + ".p0", plexus::transport::partitionArguments(before));
    broker.close();
    const std::string config = dir.write(
        service + ".json",
        json{{"service", service},
             // An address no interface has: should the check let the start through, serving
             // fails at once (another message) instead of running forever.
             {"http", {{"host", "192.0.2.1"}, {"port", 0}}},
             {"store", {{"kind", "postgres"}, {"url", pg}, {"schema", "it_queue_type"}}},
             {"transport",
              {{"kind", "rabbitmq"},
               {"urls", json::array({amqp})},
               {"queue_type", wanted},
               {"partitions", 1}}},
             {"plugins", json::array({{{"library", plexus::test::testPlugin("testkit")}}})}}
            .dump());
    const auto r = plexus::test::runHost({"--config", config});
    EXPECT_EQ(r.exitCode, 78) << r.out << r.err;  // kExitConfig: the configuration is at fault
    EXPECT_NE(r.err.find("RabbitMQ queue '" + service + ".p0' is a " + existing +
                         " queue, but transport.queue_type is \"" + wanted + "\""),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("docs/operations.md, \"Changing the queue type\""), std::string::npos)
        << r.err;
  }
}

// The consumer's batch (RabbitTransport, the dispatch benchmark): one delivery waited for, what
// else has arrived taken without waiting, up to the prefetch, and one ack with `multiple` settles
// them all: nothing comes back when the consumer goes away.
TEST(AmqpConsumer, TheBatchThatHasArrivedIsSettledByOneMultipleAck) {
  const char* url = std::getenv("PLEXUS_AMQP_URL");
  ASSERT_NE(url, nullptr) << "start scripts/services first";
  const std::string queue = "it-batch-" + std::to_string(::getpid());
  plexus::transport::Amqp pub(url);
  pub.open(5000);
  pub.declareQueue(queue, {{"x-expires", int64_t{60000}}});
  pub.confirmSelect();
  for (int i = 0; i < 5; ++i) pub.publish("", queue, {}, "m" + std::to_string(i));
  pub.waitForConfirms(10000);

  plexus::transport::Amqp sub(url);
  sub.open(5000);
  sub.qos(3);
  sub.consume(queue);
  std::vector<plexus::transport::AmqpMessage> batch;
  auto first = sub.next(10000);
  ASSERT_TRUE(first.has_value());
  batch.push_back(std::move(*first));
  ASSERT_TRUE(eventually(
      [&] {
        sub.takeReady(batch, 3);
        return batch.size() == 3;
      },
      10000));
  sub.takeReady(batch, 3);  // full: takes nothing more
  ASSERT_EQ(batch.size(), 3U);
  EXPECT_EQ(batch[0].body, "m0");
  EXPECT_EQ(batch[2].body, "m2");
  sub.ack(batch.back().deliveryTag, true);  // the prefetch window opens for the other two
  for (const char* rest : {"m3", "m4"}) {
    auto m = sub.next(10000);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->body, rest);
    sub.ack(m->deliveryTag, false);  // these alone: m0 and m1 rest on the batch's ack
  }
  sub.close();  // an unsettled delivery is requeued now and goes to the next consumer
  plexus::transport::Amqp after(url);
  after.open(5000);
  after.consume(queue);
  const auto requeued = after.next(2000);  // bounded: a requeue reaches an idle consumer at once
  EXPECT_FALSE(requeued.has_value()) << "requeued: " << requeued->body;
  after.close();
  pub.deleteQueue(queue);
}
