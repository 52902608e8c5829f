// TLS to PostgreSQL (sslmode=verify-full) and RabbitMQ (amqps) against servers of this test's own:
// tls_servers.sh makes a test CA and a server certificate for "localhost" with openssl, starts an
// initdb'd PostgreSQL that takes TCP only over TLS and a second RabbitMQ node with a TLS listener,
// and stops them by pid afterwards. Cases per server: verify-full ok, wrong CA refused, wrong host
// name refused (connecting as 127.0.0.1, a name the certificate does not carry); then the real
// host binary: migrate over TLS, and run with an amqps transport (readiness shows the broker).
#include "config/config.hpp"
#include "store/store.hpp"
#include "support.hpp"
#include "transport/amqp.hpp"

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <sstream>
#include <thread>

namespace {

using nlohmann::json;
using plexus::test::TempDir;

const std::string kScript = std::string(PLEXUS_SOURCE_DIR) + "/tests/integration/tls_servers.sh";

// Starts the servers for one suite and stops them at the end, whatever happened in between.
class Servers {
 public:
  explicit Servers(const std::string& which) {
    Poco::Pipe out, err;
    Poco::ProcessHandle h =
        Poco::Process::launch("bash", {kScript, "start", dir_.path(), which}, nullptr, &out, &err);
    Poco::PipeInputStream os(out), es(err);
    std::string text, errors;
    Poco::StreamCopier::copyToString(os, text);
    Poco::StreamCopier::copyToString(es, errors);
    const int rc = h.wait();
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      const size_t eq = line.find('=');
      if (eq != std::string::npos) values_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    if (rc != 0) {
      stop();  // whatever did start before the failure
      throw std::runtime_error("tls_servers.sh start failed (" + std::to_string(rc) + "):\n" +
                               errors);
    }
  }
  ~Servers() { stop(); }
  const std::string& operator[](const std::string& key) const { return values_.at(key); }
  const TempDir& dir() const { return dir_; }

 private:
  void stop() {
    Poco::ProcessHandle h = Poco::Process::launch("bash", {kScript, "stop", dir_.path()});
    h.wait();
  }
  TempDir dir_;
  std::map<std::string, std::string> values_;
};

std::string pgUrl(const Servers& s, const std::string& host, const std::string& ca,
                  const std::string& mode = "verify-full") {
  return "postgresql://postgres@" + host + ":" + s["PG_PORT"] + "/postgres?sslmode=" + mode +
         "&sslrootcert=" + ca + "&connect_timeout=5";
}

std::unique_ptr<plexus::store::Store> openStore(const std::string& url) {
  plexus::config::Store cfg;
  cfg.kind = "postgresql";
  cfg.url = url;
  return plexus::store::Store::open(cfg, 2);
}

// The store's own error for a connection that must fail (ping is what readiness uses).
std::string storeError(const std::string& url) {
  std::string error;
  try {
    auto store = openStore(url);
    if (store->ping(error)) return "";
    return error.empty() ? "ping failed" : error;
  } catch (const std::exception& e) {
    return e.what();
  }
}

class TlsPostgres : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      servers_ = new Servers("postgres");
    } catch (const std::exception& e) {
      startError_ = e.what();
    }
  }
  void SetUp() override { ASSERT_NE(servers_, nullptr) << startError_; }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  static Servers* servers_;
  static std::string startError_;
};
Servers* TlsPostgres::servers_ = nullptr;
std::string TlsPostgres::startError_;

TEST_F(TlsPostgres, VerifyFullConnectsOverTls) {
  const Servers& s = *servers_;
  auto store = openStore(pgUrl(s, "localhost", s["CA"]));
  std::string error;
  ASSERT_TRUE(store->ping(error)) << error;
  auto tx = store->begin();
  const auto rows = tx->query(
      "SELECT CASE WHEN ssl THEN 1 ELSE 0 END, version FROM pg_stat_ssl WHERE pid = "
      "pg_backend_pid()",
      {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].asInt(), 1);
  tx->commit();
}

TEST_F(TlsPostgres, WrongCaIsRefused) {
  const std::string e = storeError(pgUrl(*servers_, "localhost", (*servers_)["OTHER_CA"]));
  EXPECT_NE(e.find("certificate verify failed"), std::string::npos) << e;
}

TEST_F(TlsPostgres, WrongHostNameIsRefused) {
  const std::string e = storeError(pgUrl(*servers_, "127.0.0.1", (*servers_)["CA"]));
  EXPECT_NE(e.find("does not match host name"), std::string::npos) << e;
}

TEST_F(TlsPostgres, PlainConnectionsAreNotAccepted) {
  const std::string e = storeError(pgUrl(*servers_, "localhost", (*servers_)["CA"], "disable"));
  EXPECT_NE(e.find("no encryption"), std::string::npos) << e;
}

TEST_F(TlsPostgres, HostMigratesOverVerifyFullAndRefusesAWrongCa) {
  const Servers& s = *servers_;
  TempDir dir;
  auto config = [&](const std::string& url) {
    return json{{"service", "tls-e"},
                {"store", {{"kind", "postgres"}, {"url", url}, {"schema", "tls_e"}}},
                {"plugins", json::array({json{{"library", plexus::test::testPlugin("testkit")}}})}}
        .dump();
  };
  auto r = plexus::test::runHost(
      {"migrate", "--config", dir.write("ok.json", config(pgUrl(s, "localhost", s["CA"])))});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  r = plexus::test::runHost(
      {"migrate", "--config", dir.write("bad.json", config(pgUrl(s, "localhost", s["OTHER_CA"])))});
  EXPECT_EQ(r.exitCode, 69) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("certificate verify failed"), std::string::npos) << r.out << r.err;
}

class TlsRabbit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      servers_ = new Servers("all");
    } catch (const std::exception& e) {
      startError_ = e.what();
    }
  }
  void SetUp() override { ASSERT_NE(servers_, nullptr) << startError_; }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  static std::string url(const std::string& host) {
    return "amqps://guest:guest@" + host + ":" + (*servers_)["AMQPS_PORT"] + "/";
  }
  static plexus::transport::AmqpTls tls(const std::string& ca, bool verifyHostname = true) {
    plexus::transport::AmqpTls t;
    t.caFile = ca;
    t.verifyHostname = verifyHostname;
    return t;
  }
  static std::string openError(const std::string& u, const plexus::transport::AmqpTls& t) {
    plexus::transport::Amqp amqp(u, t);
    try {
      amqp.open(5000);
    } catch (const plexus::transport::AmqpError& e) {
      return e.what();
    }
    return "";
  }
  static Servers* servers_;
  static std::string startError_;
};
Servers* TlsRabbit::servers_ = nullptr;
std::string TlsRabbit::startError_;

TEST_F(TlsRabbit, VerifiedConnectionPublishesAndConsumes) {
  plexus::transport::Amqp amqp(url("localhost"), tls((*servers_)["CA"]));
  // The TLS port accepts a little before the node takes logins: retry within a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string last;
  while (!amqp.isOpen() && std::chrono::steady_clock::now() < deadline) {
    try {
      amqp.open(5000);
    } catch (const plexus::transport::AmqpError& e) {
      last = e.what();
      std::this_thread::sleep_for(
          std::chrono::milliseconds(250));  // retry pace within the deadline
    }
  }
  ASSERT_TRUE(amqp.isOpen()) << last;
  amqp.declareQueue("tls-e-probe");
  amqp.confirmSelect();
  plexus::transport::AmqpProperties props;
  props.messageId = "m-1";
  props.type = "Probe";
  amqp.publish("", "tls-e-probe", props, R"({"over":"tls"})");
  amqp.waitForConfirms(5000);
  amqp.consume("tls-e-probe");
  const auto m = amqp.next(5000);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, R"({"over":"tls"})");
  amqp.ack(m->deliveryTag);
}

TEST_F(TlsRabbit, WrongCaIsRefused) {
  const std::string e = openError(url("localhost"), tls((*servers_)["OTHER_CA"]));
  EXPECT_NE(e, "");
  EXPECT_NE(e.find("SSL"), std::string::npos) << e;
}

TEST_F(TlsRabbit, WrongHostNameIsRefusedUnlessHostnameCheckIsOff) {
  const std::string e = openError(url("127.0.0.1"), tls((*servers_)["CA"]));
  EXPECT_NE(e.find("SSL"), std::string::npos) << e;
  // The same connection with verify_hostname off (peer still verified) goes through: the refusal
  // above was the host name and nothing else.
  EXPECT_EQ(openError(url("127.0.0.1"), tls((*servers_)["CA"], false)), "");
}

TEST_F(TlsRabbit, HostRunsWithTlsStoreAndAmqpsTransport) {
  const Servers& s = *servers_;
  TempDir dir;
  auto config = [&](const std::string& amqpCa) {
    return json{
        {"service", "tls-e-run"},
        {"http", {{"host", "127.0.0.1"}, {"port", 0}, {"shutdown_delay_ms", 0}}},
        {"store",
         {{"kind", "postgres"}, {"url", pgUrl(s, "localhost", s["CA"])}, {"schema", "tls_e_run"}}},
        {"transport",
         {{"kind", "rabbitmq"}, {"url", url("localhost")}, {"tls", {{"ca_file", amqpCa}}}}},
        {"plugins", json::array({json{{"library", plexus::test::testPlugin("testkit")}}})}}
        .dump();
  };
  const std::string ok = dir.write("ok.json", config(s["CA"]));
  const auto migrated = plexus::test::runHost({"migrate", "--config", ok});
  ASSERT_EQ(migrated.exitCode, 0) << migrated.out << migrated.err;

  auto broker = [](int port) {
    const auto r = plexus::test::http(port, "GET", "/health/ready");
    const json j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j["checks"].value("broker", std::string()) : std::string();
  };
  auto waitFor = [&](int port, const std::function<bool(const std::string&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string state;
    while (std::chrono::steady_clock::now() < deadline) {
      state = broker(port);
      if (done(state)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // bounded poll (60 s deadline)
    }
    return state;
  };
  {
    plexus::test::HostProcess host(ok);
    EXPECT_EQ(waitFor(host.port(), [](const std::string& st) { return st == "connected"; }),
              "connected");
    // The store side of readiness went over verify-full as well.
    const json ready = json::parse(plexus::test::http(host.port(), "GET", "/health/ready").body);
    EXPECT_EQ(ready["checks"]["store"], "ok") << ready.dump();
  }
  {
    plexus::test::HostProcess host(dir.write("bad.json", config(s["OTHER_CA"])));
    const std::string state = waitFor(host.port(), [](const std::string& st) {
      return st.find("SSL") != std::string::npos || st == "connected";
    });
    EXPECT_NE(state.find("SSL"), std::string::npos) << state;
  }
}

}  // namespace
