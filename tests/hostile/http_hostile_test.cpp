// Issue 20 against the all-in-one host with its shipped defaults: slow clients, a connection flood
// and big or odd requests. Every case prints its figures ("[figure] ..."); assertions are about
// behaviour (answers, refusals, recovery) and generous bounds, never tight timings.
// PLEXUS_HOSTILE_SMOKE=1 runs a small version of each case (the default run's subset).
#include "load.hpp"
#include "support.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

using nlohmann::json;
using plexus::hostile::Flood;
using plexus::hostile::Latency;
using plexus::hostile::procStats;
using plexus::hostile::SlowClients;
using plexus::test::HostProcess;
using plexus::test::http;
using plexus::test::RawConnection;
using Clock = std::chrono::steady_clock;
using plexus::test::msSince;

bool smoke() {
  const char* s = std::getenv("PLEXUS_HOSTILE_SMOKE");
  return s != nullptr && std::string(s) == "1";
}

class HostileHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plexus::hostile::raiseDescriptorLimit();
    dir_ = new plexus::test::TempDir;
    host_ = new HostProcess(std::string(PLEXUS_SOURCE_DIR) + "/config/all-in-one.json",
                            {{"PLEXUS_HTTP_PORT", "0"},
                             {"PLEXUS_MANAGEMENT_PORT", "0"},
                             {"PLEXUS_PLUGIN_DIR", PLEXUS_PLUGIN_DIR},
                             {"PLEXUS_DATA_DIR", dir_->path()}});
    const auto r = http(host_->port(), "POST", "/api/orders",
                        plexus::hostile::orderJson("hostile-customer", "hostile-mug", 9.5));
    ASSERT_EQ(r.status, 201) << r.body;
    orderId_ = json::parse(r.body)["orderId"];
  }
  static void TearDownTestSuite() {
    delete host_;
    delete dir_;
  }
  static std::string getOrder() {
    return "GET /api/orders/" + orderId_ + " HTTP/1.1\r\nHost: hostile\r\n\r\n";
  }
  static plexus::hostile::ProcStats stats() { return procStats(host_->pid()); }

  static plexus::test::TempDir* dir_;
  static HostProcess* host_;
  static std::string orderId_;
};
plexus::test::TempDir* HostileHttp::dir_ = nullptr;
HostProcess* HostileHttp::host_ = nullptr;
std::string HostileHttp::orderId_;

// Probes on both ports every 50 ms while alive: how many failed, and the slowest answer.
class Prober {
 public:
  Prober(int port, int managementPort) {
    thread_ = std::thread([this, port, managementPort] {
      while (!stop_) {
        for (const auto& [p, path] :
             {std::pair<int, const char*>{port, "/health"},
              std::pair<int, const char*>{managementPort, "/health"},
              std::pair<int, const char*>{managementPort, "/health/ready"}}) {
          const auto t = Clock::now();
          int status = 0;
          try {
            status = http(p, "GET", path).status;
          } catch (const std::exception&) {
            status = -1;
          }
          const double ms = msSince(t);
          ++probes_;
          if (status != 200) ++failures_;
          if (ms > maxMs_) maxMs_ = ms;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // probe period, not a wait
      }
    });
  }
  ~Prober() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int probes() const { return probes_; }
  int failures() const { return failures_; }
  double maxMs() const { return maxMs_; }

 private:
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> probes_{0}, failures_{0};
  std::atomic<double> maxMs_{0};
};

double median(std::vector<double> v) { return plexus::hostile::quantile(v, 0.5); }

// 500 connections trickling heads or bodies a byte at a time: the real requests' p99 against
// the unloaded figure (rounds interleaved, medians compared), and probes that always answer.
TEST_F(HostileHttp, SlowClientsLeaveRealRequestsAndProbesAlone) {
  const int slow = smoke() ? 100 : 500;
  const int rounds = smoke() ? 1 : 3;
  const int loadedMs = smoke() ? 3000 : 15000;  // longer than the 10 s head deadline
  std::vector<double> p99Unloaded, p99Loaded, p50Unloaded, p50Loaded;
  const auto before = stats();
  plexus::hostile::ProcStats during;
  SlowClients::Stats slowStats;
  int probeFailures = 0, probes = 0;
  double probeMax = 0;
  for (int r = 0; r < rounds; ++r) {
    const Latency quiet = plexus::hostile::measure(host_->port(), getOrder(), 4, 100000, 3000);
    ASSERT_EQ(quiet.errors, 0);
    p99Unloaded.push_back(quiet.p99);
    p50Unloaded.push_back(quiet.p50);
    SlowClients::Options heads;
    heads.port = host_->port();
    heads.connections = slow / 2;
    heads.from = plexus::hostile::loopbackAddresses(0, 5);
    SlowClients::Options bodies = heads;
    bodies.body = true;
    bodies.from = plexus::hostile::loopbackAddresses(5, 5);
    SlowClients a(heads), b(bodies);
    a.start();
    b.start();
    ASSERT_TRUE(plexus::test::eventually(
        [&] { return a.stats().open + b.stats().open >= slow * 9 / 10; }, 30000, 50));
    Prober prober(host_->port(), host_->managementPort());
    const Latency loaded =
        plexus::hostile::measure(host_->port(), getOrder(), 4, 1000000, loadedMs);
    during = stats();
    prober.stop();
    const auto sa = a.stats(), sb = b.stats();
    a.stop();
    b.stop();
    EXPECT_EQ(loaded.errors, 0);
    EXPECT_GT(loaded.requests, 100);
    p99Loaded.push_back(loaded.p99);
    p50Loaded.push_back(loaded.p50);
    probeFailures += prober.failures();
    probes += prober.probes();
    probeMax = std::max(probeMax, prober.maxMs());
    slowStats.open = std::max(slowStats.open, sa.open + sb.open);
    slowStats.opened += sa.opened + sb.opened;
    slowStats.cutOff += sa.cutOff + sb.cutOff;
    slowStats.answered408 += sa.answered408 + sb.answered408;
    slowStats.refused503 += sa.refused503 + sb.refused503;
    std::printf(
        "[figure] round %d: unloaded p50 %.2f p99 %.2f ms (%d req); with %d slow clients p50 "
        "%.2f p99 %.2f ms (%d req)\n",
        r, quiet.p50, quiet.p99, quiet.requests, sa.open + sb.open, loaded.p50, loaded.p99,
        loaded.requests);
  }
  const double ratio = median(p99Loaded) / std::max(0.001, median(p99Unloaded));
  std::printf(
      "[figure] slow clients: %d held; p99 unloaded %.2f ms, loaded %.2f ms (x%.2f; goal <= 2); "
      "p50 %.2f -> %.2f ms; probes %d, failed %d, slowest %.1f ms; connections opened %llu, cut "
      "off by the host %llu (408: %llu), refused 503: %llu; host threads %d -> %d, fds %d -> %d, "
      "RSS %lld -> %lld KiB\n",
      slowStats.open, median(p99Unloaded), median(p99Loaded), ratio, median(p50Unloaded),
      median(p50Loaded), probes, probeFailures, probeMax,
      static_cast<unsigned long long>(slowStats.opened),
      static_cast<unsigned long long>(slowStats.cutOff),
      static_cast<unsigned long long>(slowStats.answered408),
      static_cast<unsigned long long>(slowStats.refused503), before.threads, during.threads,
      before.fds, during.fds, static_cast<long long>(before.rssKiB),
      static_cast<long long>(during.rssKiB));
  EXPECT_EQ(probeFailures, 0);
  EXPECT_GT(probes, 10);
  EXPECT_GE(slowStats.open, slow * 9 / 10);
  EXPECT_EQ(slowStats.refused503, 0u);  // 100 per address, under the per-client cap
  // A slow connection costs a descriptor, never a thread.
  EXPECT_LT(during.threads, before.threads + 70);
  EXPECT_GT(during.fds, before.fds + slow * 8 / 10);
  if (!smoke()) {
    EXPECT_GT(slowStats.answered408, 0u);  // the whole-head/-body deadlines cut them off
    // Generous (a shared 2-core machine): the figure above is what counts against the goal.
    EXPECT_LT(median(p99Loaded), 4 * median(p99Unloaded) + 50);
  }
}

// A flood from one address: the per-client cap refuses the rest with 503, counted and logged;
// keep-alive clients, other clients and the management port are served throughout; a new
// connection is served the moment the flood goes.
TEST_F(HostileHttp, FloodFromOneAddressIsCappedCountedAndRecoveredFrom) {
  const int count = smoke() ? 2000 : 10000;
  RawConnection keepAlive(host_->port());
  ASSERT_TRUE(keepAlive.send(getOrder()));
  ASSERT_EQ(keepAlive.read().status, 200);
  const auto before = stats();
  Flood flood(host_->port(), count, {"127.0.0.200"});
  const auto t = Clock::now();
  const Flood::Result r = flood.open(60000, 2000);
  const auto during = stats();
  ASSERT_TRUE(keepAlive.send(getOrder()));
  EXPECT_EQ(keepAlive.read().status, 200);
  EXPECT_EQ(http(host_->port(), "GET", "/health").status, 200);
  EXPECT_EQ(http(host_->managementPort(), "GET", "/health/ready").status, 200);
  const std::string metrics = http(host_->managementPort(), "GET", "/metrics").body;
  flood.release();
  const auto released = Clock::now();
  bool recovered = false;
  while (!recovered && msSince(released) < 10000) {
    try {
      RawConnection again(host_->port(), "127.0.0.200");
      recovered = again.send(getOrder()) && again.read().status == 200;
    } catch (const std::exception&) {
    }
  }
  const double recoverMs = msSince(released);
  std::printf(
      "[figure] flood of %d from one address in %.1f s: %d connected, %d held, %d refused with "
      "503, %d closed, %d failed; host fds %d -> %d, threads %d -> %d, RSS %lld -> %lld KiB; "
      "served again %.1f ms after the flood left\n",
      r.attempted, r.connectSeconds, r.connected, r.held, r.refused503, r.closed, r.failed,
      before.fds, during.fds, before.threads, during.threads, static_cast<long long>(before.rssKiB),
      static_cast<long long>(during.rssKiB), recoverMs);
  EXPECT_TRUE(recovered);
  EXPECT_LE(r.held, 256);  // http.limits.max_connections_per_client
  EXPECT_GE(r.held, 200);
  EXPECT_GE(r.refused503 + r.closed, count - 300);
  EXPECT_GT(r.refused503, count / 2);
  EXPECT_LT(during.fds, before.fds + 400);
  EXPECT_NE(metrics.find("plexus_http_connections_refused_total{reason=\"per_client\"}"),
            std::string::npos);
  EXPECT_NE(host_->output().find("\"connections refused\""), std::string::npos);
  (void)t;
}

// A flood spread over 40 addresses fills http.limits.max_connections (10 000): new connections
// are refused and counted, the connections already served keep working, the management port
// answers, and everything recovers when the flood goes.
TEST_F(HostileHttp, FloodOverManyAddressesHitsTheTotalCapWithoutFailingServedClients) {
  if (smoke()) GTEST_SKIP() << "full tier only (10 000 connections)";
  RawConnection keepAlive(host_->port());
  ASSERT_TRUE(keepAlive.send(getOrder()));
  ASSERT_EQ(keepAlive.read().status, 200);
  const auto before = stats();
  Flood flood(host_->port(), 10000, plexus::hostile::loopbackAddresses(500, 40));
  const Flood::Result r = flood.open(90000, 3000);
  const auto during = stats();
  ASSERT_TRUE(keepAlive.send(getOrder()));
  EXPECT_EQ(keepAlive.read().status, 200);
  EXPECT_EQ(http(host_->managementPort(), "GET", "/health").status, 200);
  const std::string metrics = http(host_->managementPort(), "GET", "/metrics").body;
  int fresh = -1;
  try {
    RawConnection c(host_->port());
    c.send(getOrder());
    fresh = c.read(5000).status;
  } catch (const std::exception&) {
  }
  flood.release();
  const auto released = Clock::now();
  bool recovered = false;
  while (!recovered && msSince(released) < 10000) {
    try {
      RawConnection again(host_->port());
      recovered = again.send(getOrder()) && again.read().status == 200;
    } catch (const std::exception&) {
    }
  }
  const double recoverMs = msSince(released);
  const auto after = stats();
  std::printf(
      "[figure] flood of 10000 from 40 addresses in %.1f s: %d connected, %d held, %d refused "
      "with 503, %d closed, %d failed; a new client during it got %d; host fds %d -> %d -> %d, "
      "threads %d -> %d, RSS %lld -> %lld -> %lld KiB; served again %.1f ms after the flood "
      "left\n",
      r.connectSeconds, r.connected, r.held, r.refused503, r.closed, r.failed, fresh, before.fds,
      during.fds, after.fds, before.threads, during.threads, static_cast<long long>(before.rssKiB),
      static_cast<long long>(during.rssKiB), static_cast<long long>(after.rssKiB), recoverMs);
  EXPECT_TRUE(recovered);
  EXPECT_EQ(r.failed, 0);
  EXPECT_GT(r.held, 9000);
  EXPECT_EQ(fresh, 503);  // refused with a reason, not left hanging
  EXPECT_NE(metrics.find("plexus_http_connections_refused_total{reason=\"max_connections\"}"),
            std::string::npos);
  EXPECT_LT(during.threads, before.threads + 70);
}

// Out of descriptors (a limit lowered under a running host, as a leak elsewhere would do): the
// pending connections are accepted with a spare descriptor and refused with 503, counted as
// fd_limit and logged, instead of hanging in the backlog or spinning the loop; the host serves
// again as soon as descriptors are free. (At start the host lowers max_connections to fit the
// limit, so with a limit it knew of this does not happen.)
TEST(HostileHttpLimits, OutOfDescriptorsIsRefusedCountedAndRecoveredFrom) {
  plexus::test::TempDir dir;
  HostProcess host(std::string(PLEXUS_SOURCE_DIR) + "/config/all-in-one.json",
                   {{"PLEXUS_HTTP_PORT", "0"},
                    {"PLEXUS_MANAGEMENT_PORT", "0"},
                    {"PLEXUS_PLUGIN_DIR", PLEXUS_PLUGIN_DIR},
                    {"PLEXUS_DATA_DIR", dir.path()}});
  const rlimit low{300, 300};
  ASSERT_EQ(::prlimit(host.pid(), RLIMIT_NOFILE, &low, nullptr), 0) << strerror(errno);
  Flood flood(host.port(), 500, plexus::hostile::loopbackAddresses(100, 4));
  const Flood::Result r = flood.open(30000, 1000);
  const auto s = procStats(host.pid());
  flood.release();
  bool recovered = plexus::test::eventually(
      [&] {
        try {
          return http(host.port(), "GET", "/health").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      10000, 50);
  const std::string metrics = http(host.managementPort(), "GET", "/metrics").body;
  std::printf(
      "[figure] descriptor limit 300 under a flood of %d: %d held, %d refused with 503, "
      "%d closed; host fds %d; served again: %s\n",
      r.attempted, r.held, r.refused503, r.closed, s.fds, recovered ? "yes" : "no");
  EXPECT_TRUE(recovered);
  EXPECT_GT(r.held, 200);
  EXPECT_LT(r.held, 300);
  EXPECT_GT(r.refused503, 150);
  EXPECT_LE(s.fds, 300);
  EXPECT_EQ(metrics.find("plexus_http_connections_refused_total{reason=\"fd_limit\"} 0"),
            std::string::npos);
  EXPECT_NE(host.output().find("\"reason\":\"fd_limit\""), std::string::npos);
}

// ---- big and odd requests ----------------------------------------------------------------------

struct Odd {
  int status = 0;
  bool closed = false;
  int64_t sent = 0;
  double ms = 0;
};

// Sends `head`, then body bytes from `next` while reading: stops at the answer, a closed
// connection, `maxBytes` or `timeoutMs`.
Odd stream(int port, const std::string& head, const std::function<std::string()>& next,
           int64_t maxBytes, int timeoutMs) {
  Odd o;
  RawConnection c(port);
  const auto t = Clock::now();
  if (!c.send(head)) {
    o.closed = true;
    return o;
  }
  o.sent = static_cast<int64_t>(head.size());
  std::string pending;
  while (msSince(t) < timeoutMs) {
    const bool more = o.sent - static_cast<int64_t>(head.size()) < maxBytes;
    pollfd p{c.fd(), static_cast<short>(POLLIN | (more ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const auto r = c.read(5000);
      o.status = r.status;
      o.closed = c.waitClosed(5000);
      break;
    }
    if (!more) continue;
    if (pending.empty()) pending = next();
    const ssize_t n = ::send(c.fd(), pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN) {
      o.closed = true;
      const auto r = c.read(2000);
      o.status = r.status;
      break;
    }
    if (n > 0) {
      o.sent += n;
      pending.erase(0, static_cast<size_t>(n));
    }
  }
  o.ms = msSince(t);
  return o;
}

void report(const char* name, const Odd& o, const plexus::hostile::ProcStats& before,
            const plexus::hostile::ProcStats& after) {
  std::printf(
      "[figure] %s: status %d, connection %s, %.1f MiB sent, %.0f ms; host RSS %+lld KiB "
      "(peak %+lld KiB)\n",
      name, o.status, o.closed ? "closed" : "open", static_cast<double>(o.sent) / (1 << 20), o.ms,
      static_cast<long long>(after.rssKiB - before.rssKiB),
      static_cast<long long>(after.hwmKiB - before.hwmKiB));
}

TEST_F(HostileHttp, GibibyteContentLengthIs413AtOnceAndClosed) {
  const auto before = stats();
  const std::string chunk(64 << 10, 'x');
  const Odd o = stream(
      host_->port(),
      "POST /api/orders HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
      "Content-Length: 1073741824\r\n\r\n",
      [&] { return chunk; }, int64_t{1} << 30, 60000);
  report("1 GiB Content-Length body", o, before, stats());
  EXPECT_EQ(o.status, 413);
  EXPECT_TRUE(o.closed);
  EXPECT_LT(o.sent, int64_t{1} << 30);
  EXPECT_LT(stats().rssKiB - before.rssKiB, 16 << 10);
  EXPECT_EQ(http(host_->port(), "GET", "/health").status, 200);
}

TEST_F(HostileHttp, EndlessChunkedBodyIs413AfterTheReadAwayCap) {
  const auto before = stats();
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'y') + "\r\n";
  const Odd o = stream(
      host_->port(),
      "POST /api/orders HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n",
      [&] { return chunk; }, int64_t{512} << 20, 60000);
  report("endless chunked body", o, before, stats());
  EXPECT_EQ(o.status, 413);
  EXPECT_TRUE(o.closed);
  EXPECT_LT(o.sent, int64_t{512} << 20);
  EXPECT_LT(stats().rssKiB - before.rssKiB, 16 << 10);
}

TEST_F(HostileHttp, HundredFieldsOf8KiBAre431) {
  const auto before = stats();
  std::string head = "GET /api/orders/" + orderId_ + " HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 100; ++i)
    head += "X-Field-" + std::to_string(i) + ": " + std::string(8192, 'f') + "\r\n";
  head += "\r\n";
  const Odd o = stream(
      host_->port(), head, [] { return std::string(); }, 0, 30000);
  report("100 header fields of 8 KiB", o, before, stats());
  EXPECT_EQ(o.status, 431);
  EXPECT_TRUE(o.closed);
}

TEST_F(HostileHttp, MebibyteRequestLineIs414) {
  const auto before = stats();
  const std::string head = "GET /" + std::string(1 << 20, 'l') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  const Odd o = stream(
      host_->port(), head, [] { return std::string(); }, 0, 30000);
  report("1 MiB request line", o, before, stats());
  EXPECT_EQ(o.status, 414);
  EXPECT_TRUE(o.closed);
}

TEST_F(HostileHttp, ExpectContinueOverTheLimitIs413WithoutContinue) {
  const auto before = stats();
  RawConnection c(host_->port());
  const auto t = Clock::now();
  ASSERT_TRUE(
      c.send("POST /api/orders HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
             "Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n"));
  Odd o;
  o.status = c.read(10000).status;
  o.closed = c.waitClosed(5000);
  o.ms = msSince(t);
  report("Expect: 100-continue over the limit", o, before, stats());
  EXPECT_EQ(o.status, 413);
  EXPECT_TRUE(o.closed);
}

TEST_F(HostileHttp, PipelinedRequestsAllAnsweredInOrder) {
  const int n = smoke() ? 200 : 2000;
  const auto before = stats();
  RawConnection c(host_->port());
  std::string batch;
  for (int i = 0; i < n; ++i) batch += i % 2 == 0 ? getOrder() : "GET /health HTTP/1.1\r\n\r\n";
  const auto t = Clock::now();
  ASSERT_TRUE(c.send(batch));
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    const auto r = c.read(20000);
    const bool expected =
        r.status == 200 && (i % 2 == 0 ? r.body.find(orderId_) != std::string::npos
                                       : r.body.find("\"ok\"") != std::string::npos);
    if (!expected) break;
    ++ok;
  }
  Odd o;
  o.status = 200;
  o.sent = static_cast<int64_t>(batch.size());
  o.ms = msSince(t);
  report(("" + std::to_string(n) + " pipelined requests").c_str(), o, before, stats());
  EXPECT_EQ(ok, n);
}

}  // namespace
