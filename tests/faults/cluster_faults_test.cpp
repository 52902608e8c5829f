// The broker as a cluster (issue 14), on the three-node RabbitMQ cluster of scripts/services
// (`rabbitmq-cluster`; its URLs in PLEXUS_AMQP_CLUSTER_URLS) with quorum queues:
//  - the seven deployments under the order load while the node that leads the most partition
//    queues is killed with SIGKILL (it comes back later), then every node is restarted in turn;
//    oracle: the side-effect ledger (order_ledger.hpp); reported per fault: the pause, the longest
//    time without a completed order;
//  - a message that crashes its consumer every time ends in the dead-letter queue after exactly
//    transport.delivery_limit + 1 deliveries: the quorum queue's limit, the second line behind the
//    host's own retries, stops the crash loop.
#include "order_ledger.hpp"
#include "smtp_sink.hpp"
#include "support.hpp"
#include "system.hpp"
#include "transport/amqp.hpp"
#include "transport/cloudevents.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

namespace plexus::faults {
namespace {

using nlohmann::json;

const std::vector<std::string> kNodes{"a", "b", "c"};

std::string clusterUrls() {
  const char* urls = std::getenv("PLEXUS_AMQP_CLUSTER_URLS");
  if (urls == nullptr || *urls == '\0') {
    throw std::runtime_error(
        "PLEXUS_AMQP_CLUSTER_URLS not set: ./scripts/test --faults starts the cluster "
        "(scripts/services start rabbitmq-cluster) and sets it");
  }
  return urls;
}

// Node id (a, b, c) -> how many partition queues of the seven deployments it leads.
std::map<std::string, int> partitionLeaders() {
  std::map<std::string, int> leads;
  std::istringstream lines(System::ctl("rabbitmq-cluster", "-q list_queues name leader"));
  for (std::string line; std::getline(lines, line);) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    const std::string name = line.substr(0, tab), leader = line.substr(tab + 1);
    const size_t p = name.rfind(".p");
    if (p == std::string::npos) continue;
    bool ours = false;
    for (const auto& s : kServices) ours = ours || name.compare(0, p, s) == 0;
    const size_t at = leader.find('@');
    if (ours && at != std::string::npos && at > 0) ++leads[leader.substr(at - 1, 1)];
  }
  return leads;
}

// Every host ready with both broker connections on a live node (never `avoid`).
bool allConnectedAvoiding(const System& system, const std::string& avoidNode) {
  try {
    for (const auto& s : kServices) {
      if (!system.ready(s)) return false;
      const auto r = test::http(system.port(s), "GET", "/health/ready");
      const json nodes = json::parse(r.body)["checks"].value("broker_nodes", json::object());
      for (const auto& [role, node] : nodes.items()) {
        if (node.is_string() && node.get<std::string>() == avoidNode) return false;
      }
    }
    return true;
  } catch (const std::exception&) {
    return false;  // a host between two answers
  }
}

std::string portOfNode(const std::string& urls, const std::string& id) {
  const size_t index = static_cast<size_t>(id[0] - 'a');
  std::vector<std::string> list;
  std::istringstream in(urls);
  for (std::string u; std::getline(in, u, ',');) list.push_back(u);
  const std::string& url = list.at(index);
  const size_t colon = url.rfind(':');
  return "127.0.0.1:" + url.substr(colon + 1, url.find('/', colon) - colon - 1);
}

struct Window {
  std::string what;
  int64_t fromMs = 0;
  int64_t toMs = 0;
};

TEST(ClusterFaults, NodeLossAndRollingRestartLoseNothingUnderLoad) {
  const std::string urls = clusterUrls();
  System::services("start", "rabbitmq-cluster");  // all three nodes, one cluster (idempotent)
  std::mt19937 rng(14);
  test::SmtpSink smtp;
  System system(smtp, urls);
  const std::string run = "q" + std::to_string(::getpid());
  const int maxOrders = 400, minOrders = 150;
  Catalog catalog = stockAndPlan(system, rng, run, maxOrders);
  OrderLoad load(system, catalog.orders, minOrders);
  auto allReady = [&] {
    for (const auto& s : kServices) system.waitReady(s, 180000);
  };

  std::vector<Window> faults;
  std::string error;
  int64_t baselineFrom = 0, baselineTo = 0, reconnectedMs = -1;
  std::string victim;
  std::map<std::string, int> leads;
  try {
    baselineFrom = nowMs();
    std::this_thread::sleep_for(std::chrono::seconds(20));  // the load alone, for the baseline
    baselineTo = nowMs();

    // 1. The node that leads the most partition queues, lost (SIGKILL); back after 20 s.
    leads = partitionLeaders();
    victim = "a";
    for (const auto& [node, n] : leads) {
      if (n > leads[victim]) victim = node;
    }
    std::cout << "[cluster] partition queue leaders: a " << leads["a"] << ", b " << leads["b"]
              << ", c " << leads["c"] << "; killing node " << victim << std::endl;
    Window kill{"kill -9 node " + victim + " (" + std::to_string(leads[victim]) +
                    " partition leaders), back after 20 s",
                nowMs()};
    System::services("stop", "rabbitmq-cluster:" + victim, "PLEXUS_RMQ_STOP_MODE=kill");
    const std::string dead = portOfNode(urls, victim);
    if (!test::eventually([&] { return allConnectedAvoiding(system, dead); }, 120000, 100)) {
      throw std::runtime_error("the hosts did not all reconnect away from node " + victim);
    }
    reconnectedMs = nowMs() - kill.fromMs;
    std::this_thread::sleep_for(std::chrono::seconds(20));  // the cluster runs on two nodes
    System::services("start", "rabbitmq-cluster:" + victim);
    allReady();
    kill.toMs = nowMs();
    faults.push_back(kill);
    std::cout << "[cluster] every host reconnected to a live node " << reconnectedMs
              << " ms after the kill" << std::endl;

    std::this_thread::sleep_for(
        std::chrono::seconds(15));  // load on three nodes again before the next fault
    // 2. A rolling restart: each node stopped and started again in turn, as an upgrade does.
    for (const auto& node : kNodes) {
      // As the upgrade procedure says: only a node whose loss leaves every quorum queue a
      // majority is taken down (its replicas caught up after the previous node's restart).
      if (!test::eventually(
              [&] {
                try {
                  System::ctl("rabbitmq-cluster:" + node,
                              "rabbitmq-queues -q check_if_node_is_quorum_critical");
                  return true;
                } catch (const std::exception&) {
                  return false;
                }
              },
              120000, 1000)) {
        throw std::runtime_error("node " + node + " stayed quorum critical for 120 s");
      }
      Window step{"rolling restart: node " + node, nowMs()};
      System::services("stop", "rabbitmq-cluster:" + node);
      System::services("start", "rabbitmq-cluster:" + node);
      allReady();
      step.toMs = nowMs();
      faults.push_back(step);
      std::this_thread::sleep_for(
          std::chrono::seconds(5));  // load between steps: each pause measured alone
    }
    std::this_thread::sleep_for(std::chrono::seconds(10));  // load after the last step
  } catch (const std::exception& e) {
    error = e.what();  // still stop the load below: a joinable thread must not be left
  }
  if (error.empty())
    load.stop();
  else
    load.abort();
  ASSERT_TRUE(error.empty()) << error << "\n" << system.output().substr(0, 20000);
  ASSERT_TRUE(load.error().empty()) << load.error();
  const size_t accepted = acceptedCount(catalog.orders);
  ASSERT_GE(accepted, static_cast<size_t>(minOrders));

  std::vector<int64_t> faultTimes;
  for (const auto& f : faults) faultTimes.push_back(f.fromMs);
  const Verdict v = judge(smtp, catalog.orders, catalog.initial, run, faultTimes);
  std::cout << "[cluster] ---- result ----\n"
            << "[cluster] pause (longest time without a completed order), baseline (20 s of load "
               "before any fault): "
            << longestPause(v.completions, baselineFrom, baselineTo) << " ms\n";
  for (const auto& f : faults) {
    std::cout << "[cluster] pause " << longestPause(v.completions, f.fromMs, f.toMs)
              << " ms during " << f.what << " (" << (f.toMs - f.fromMs) << " ms)\n";
  }
  print("cluster", v, accepted, load);
  // Failovers, as the hosts counted them (plexus_broker_connects_total, per connection).
  for (const auto& s : kServices) {
    std::map<std::string, double> opened;
    std::istringstream text(test::http(system.port(s), "GET", "/metrics").body);
    for (std::string line; std::getline(text, line);) {
      if (line.rfind("plexus_broker_connects_total{", 0) != 0) continue;
      const size_t c = line.find("connection=\"") + 12;
      opened[line.substr(c, line.find('"', c) - c)] += std::stod(line.substr(line.rfind(' ') + 1));
    }
    std::cout << "[cluster] " << s << ": broker connections opened: consumer " << opened["consumer"]
              << ", publisher " << opened["publisher"] << "\n";
  }

  EXPECT_GT(leads[victim], 0) << "the victim led no partition queue";
  EXPECT_TRUE(v.settled) << "the system did not settle: " << v.pendingWhy;
  EXPECT_EQ(v.lost, 0);
  EXPECT_EQ(v.duplicated, 0);
  EXPECT_TRUE(v.stockProblems.empty());
  EXPECT_EQ(load.notAccepted(), 0);
  if (HasFailure()) {
    const std::string out = system.output();
    std::cout << "[cluster] last host output:\n"
              << out.substr(out.size() > 20000 ? out.size() - 20000 : 0);
  }
}

// The host's retries ack a failing message and reschedule it in the store, so they never hand it
// back to the broker. A message that kills its consumer before the commit is different: each
// crash returns it to the queue. The quorum queue counts those returns and, past
// transport.delivery_limit, dead-letters it (at least once) instead of feeding the crash loop.
TEST(ClusterFaults, AMessageThatCrashesItsConsumerIsDeadLetteredAtTheDeliveryLimit) {
  const std::string urls = clusterUrls();
  const std::string service = "faults-crashloop";
  const std::string schema = "faults_crashloop";
  const int deliveryLimit = 2;
  test::TempDir dir;
  const std::string config = dir.write(
      "crashloop.json",
      json{{"service", service},
           {"http", {{"host", "127.0.0.1"}, {"port", 0}}},
           {"store",
            {{"kind", "postgres"}, {"url", std::getenv("PLEXUS_PG_URL")}, {"schema", schema}}},
           {"transport",
            {{"kind", "rabbitmq"},
             {"urls", urls},
             {"queue_type", "quorum"},
             {"partitions", 1},
             {"max_attempts", 1},
             {"delivery_limit", deliveryLimit}}},
           {"plugins", json::array({{{"library", test::testPlugin("testkit")}}})},
           {"log", {{"level", "info"}}}}
          .dump());
  {
    Ledger db(std::getenv("PLEXUS_PG_URL"));
    db.query("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  }
  auto migrated = test::runHost({"migrate", "--config", config});
  ASSERT_EQ(migrated.exitCode, 0) << migrated.err;
  // What earlier runs left in the deployment's queues would crash the consumer first.
  { test::HostProcess declare(config); }  // declares the queues (and consumes nothing armed)
  for (const std::string q : {service + ".p0", service + ".dead-letter"})
    System::ctl("rabbitmq-cluster", "-q purge_queue " + q);

  const std::string id = "01a21900-0000-7000-8000-" + std::string(6, '0') +
                         std::to_string(100000 + ::getpid() % 900000);
  Message m;
  m.id = id;
  m.kind = "command";
  m.type = "Work";
  m.stream = "crash-" + id;
  m.correlation = id;
  m.source = "faults-test";
  m.timestampMs = 1;
  m.payload = json{{"mode", "ok"}}.dump();
  transport::Amqp amqp(urls.substr(0, urls.find(',')));
  amqp.open(5000);
  amqp.confirmSelect();
  amqp.publish("plexus.commands", "Work", transport::toAmqp(m), m.payload);
  amqp.waitForConfirms(5000);
  amqp.close();

  // Every host is armed to die the first time a handler is about to commit: the message kills
  // each consumer it reaches, and goes back to the queue each time.
  int crashes = 0;
  auto deadLettered = [&] {
    std::istringstream lines(System::ctl("rabbitmq-cluster", "-q list_queues name messages"));
    for (std::string name, n; lines >> name >> n;) {
      if (name == service + ".dead-letter") return n != "0";
    }
    return false;
  };
  while (!deadLettered() && crashes <= deliveryLimit + 2) {
    std::unique_ptr<test::HostProcess> host;
    try {
      host = std::make_unique<test::HostProcess>(
          config, std::map<std::string, std::string>{{"PLEXUS_FAULT", "before_commit:1"}});
    } catch (const std::runtime_error& e) {  // died before it logged "listening": the crash
      ASSERT_NE(std::string(e.what()).find("fault injected"), std::string::npos) << e.what();
      ++crashes;
      continue;
    }
    const auto code = host->waitExit(60000);
    if (!code) {  // alive: the message no longer reaches it
      host->signal(SIGKILL);
      host->waitExit(10000);
      break;
    }
    ASSERT_EQ(*code, 137) << host->output();
    ++crashes;
  }
  ASSERT_TRUE(test::eventually(deadLettered, 30000, 200)) << crashes << " crashes";
  std::cout << "[crashloop] dead-lettered by the broker after " << crashes
            << " consumer crashes (transport.delivery_limit " << deliveryLimit << ")\n";
  EXPECT_EQ(crashes, deliveryLimit + 1);

  // The dead letter is the message itself, with the broker's reason; an unarmed host now runs.
  transport::Amqp reader(urls.substr(0, urls.find(',')));
  reader.open(5000);
  reader.qos(1);
  reader.consume(service + ".dead-letter");
  auto letter = reader.next(10000);
  ASSERT_TRUE(letter.has_value());
  EXPECT_EQ(letter->properties.messageId, id);
  const std::string* reason = letter->properties.header("x-first-death-reason");
  ASSERT_NE(reason, nullptr);
  EXPECT_EQ(*reason, "delivery_limit");
  reader.ack(letter->deliveryTag);
  reader.close();
  test::HostProcess healthy(config);
  EXPECT_TRUE(test::eventually(
      [&] {
        return test::http(healthy.port(), "GET", "/health/ready")
                   .body.find("\"broker\":\"connected\"") != std::string::npos;
      },
      60000));
}

}  // namespace
}  // namespace plexus::faults
