// A soak of the seven distributed hosts under a steady order load (issue 20): every few seconds
// each host's RSS, descriptors and threads, PostgreSQL's connections and the outbox/inbox sizes
// are sampled; after a warm-up a least-squares slope is fitted to each series. Passes with no
// error, every order completed, and (in the long form) flat resources.
//
// PLEXUS_SOAK_MINUTES (default 30: the long form of the hostile tier; the default run's short
// form sets 1), PLEXUS_SOAK_RATE (orders/s, 4), PLEXUS_SOAK_SAMPLE_SECONDS (5),
// PLEXUS_SOAK_OUT (a directory for samples.csv and the gnuplot script; default the build's
// soak/). With gnuplot installed the plot is drawn there too (docs/img/soak.png is one).
#include "load.hpp"
#include "smtp_sink.hpp"
#include "store/store.hpp"
#include "support.hpp"
#include "system.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace {

using nlohmann::json;
using plexus::faults::kServices;
using plexus::faults::schemaOf;
using Clock = std::chrono::steady_clock;

double envNumber(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != 0 ? std::atof(v) : fallback;
}

constexpr const char* kNowMs = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint";

struct Sample {
  double t = 0;  // seconds since the load started
  std::map<std::string, plexus::hostile::ProcStats> hosts;
  int64_t pgConnections = 0;
  int64_t outboxPending = 0, outboxScheduled = 0, outboxRows = 0, inboxRows = 0;  // all schemas
  int64_t accepted = 0;
};

// Least-squares slope of y over x (per second); 0 with fewer than 3 points.
double slope(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 3) return 0;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : 0;
}

class Soak {
 public:
  explicit Soak(plexus::faults::System& system, const std::string& pgUrl) : system_(system) {
    plexus::config::Store sc;
    sc.kind = "postgresql";
    sc.url = pgUrl;
    db_ = plexus::store::Store::open(sc, 1);
  }

  int64_t scalar(const std::string& sql) {
    auto tx = db_->begin();
    const auto rows = tx->query(sql, {});
    tx->commit();
    return rows.at(0).at(0).asInt();
  }

  Sample sample(double t, int64_t accepted) {
    Sample s;
    s.t = t;
    s.accepted = accepted;
    for (const auto& svc : kServices) s.hosts[svc] = plexus::hostile::procStats(system_.pid(svc));
    s.pgConnections = scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
        "pg_backend_pid()");
    for (const auto& svc : kServices) {
      const std::string schema = schemaOf(svc);
      // Due and unpublished; rows scheduled for later (saga timeouts) are counted apart.
      s.outboxPending +=
          scalar("SELECT COUNT(*) FROM " + schema + ".plexus_outbox WHERE deliver_at <= " + kNowMs);
      s.outboxScheduled +=
          scalar("SELECT COUNT(*) FROM " + schema + ".plexus_outbox WHERE deliver_at > " + kNowMs);
      s.outboxRows += scalar("SELECT COUNT(*) FROM " + schema + ".plexus_outbox");
      s.inboxRows += scalar("SELECT COUNT(*) FROM " + schema + ".plexus_inbox");
    }
    return s;
  }

 private:
  plexus::faults::System& system_;
  std::unique_ptr<plexus::store::Store> db_;
};

void writeOutputs(const std::string& dir, const std::vector<Sample>& samples) {
  std::filesystem::create_directories(dir);
  std::ofstream csv(dir + "/samples.csv");
  csv << "t_s,accepted,pg_connections,outbox_pending,outbox_rows,inbox_rows,outbox_scheduled";
  for (const auto& svc : kServices)
    csv << "," << svc << "_rss_mib," << svc << "_fds," << svc << "_threads";
  csv << "\n";
  for (const Sample& s : samples) {
    csv << s.t << "," << s.accepted << "," << s.pgConnections << "," << s.outboxPending << ","
        << s.outboxRows << "," << s.inboxRows << "," << s.outboxScheduled;
    for (const auto& svc : kServices) {
      const auto& h = s.hosts.at(svc);
      csv << "," << static_cast<double>(h.rssKiB) / 1024.0 << "," << h.fds << "," << h.threads;
    }
    csv << "\n";
  }
  csv.close();
  // Three panels: RSS per host, descriptors and threads per host, PostgreSQL and the outbox.
  std::ofstream gp(dir + "/soak.gp");
  gp << "set terminal pngcairo size 1200,1000 font ',10'\nset output '" << dir << "/soak.png'\n"
     << "set datafile separator ','\nset key outside right\nset xlabel 'minutes'\n"
     << "set multiplot layout 3,1\nset ylabel 'RSS MiB'\nplot ";
  for (size_t i = 0; i < kServices.size(); ++i)
    gp << (i ? ", " : "") << "'" << dir << "/samples.csv' using ($1/60):" << 8 + 3 * i
       << " with lines title '" << kServices[i] << "'";
  gp << "\nset ylabel 'fds / threads'\nplot ";
  for (size_t i = 0; i < kServices.size(); ++i)
    gp << (i ? ", " : "") << "'" << dir << "/samples.csv' using ($1/60):" << 9 + 3 * i
       << " with lines title '" << kServices[i] << " fds', '" << dir
       << "/samples.csv' using ($1/60):" << 10 + 3 * i << " with lines dt 2 title '" << kServices[i]
       << " threads'";
  gp << "\nset ylabel 'count'\nplot '" << dir
     << "/samples.csv' using ($1/60):3 with lines title 'PostgreSQL connections', '" << dir
     << "/samples.csv' using ($1/60):4 with lines title 'outbox pending', '" << dir
     << "/samples.csv' using ($1/60):7 with lines title 'outbox scheduled (timers: saga timeouts, "
        "reservation expiry)', '"
     << dir << "/samples.csv' using ($1/60):($6/1000) with lines title 'inbox rows / 1000'\n"
     << "unset multiplot\n";
  gp.close();
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0)
    std::system(("gnuplot '" + dir + "/soak.gp'").c_str());
}

TEST(Soak, SevenHostsUnderSteadyOrderLoad) {
  const char* pg = std::getenv("PLEXUS_PG_URL");
  if (pg == nullptr || std::getenv("PLEXUS_AMQP_URL") == nullptr)
    GTEST_SKIP() << "PLEXUS_PG_URL / PLEXUS_AMQP_URL unset";
  const double minutes = envNumber("PLEXUS_SOAK_MINUTES", 30);
  const double rate = envNumber("PLEXUS_SOAK_RATE", 4);
  const double every = envNumber("PLEXUS_SOAK_SAMPLE_SECONDS", 5);
  const char* outEnv = std::getenv("PLEXUS_SOAK_OUT");
  const std::string out = outEnv != nullptr ? outEnv : std::string(PLEXUS_BUILD_DIR) + "/soak";
  plexus::test::SmtpSink smtp;
  plexus::faults::System system(smtp);
  Soak soak(system, pg);
  const int inventory = system.port("inventory-worker");
  const int orders = system.port("order-service");
  const std::string run = std::to_string(::getpid());
  const std::vector<std::string> products{"soak-mug-" + run, "soak-lamp-" + run, "soak-pen-" + run};
  for (const auto& p : products) {
    const auto r = plexus::test::http(inventory, "PUT", "/api/inventory/" + p,
                                      json{{"availableStock", 10000000}}.dump());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
  }
  // Load: 4 clients paced to `rate` orders/s in all; each order retried with its key until
  // accepted (at most 20 tries).
  std::atomic<bool> stop{false};
  std::atomic<int64_t> accepted{0}, refused{0};
  std::mutex mu;
  std::vector<std::string> ids;
  const auto started = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      const auto period = std::chrono::duration<double>(4.0 / rate);
      auto next = Clock::now();
      for (int i = 0; !stop; ++i) {
        next += std::chrono::duration_cast<Clock::duration>(period);
        std::this_thread::sleep_until(next);  // pacing the load, not waiting for a condition
        const std::string key = "soak-" + run + "-" + std::to_string(c) + "-" + std::to_string(i);
        const std::string body =
            plexus::hostile::orderJson("soak-" + run, products[static_cast<size_t>(i) % 3], 3.5);
        for (int attempt = 0; attempt < 20 && !stop; ++attempt) {
          plexus::test::HttpResult r;
          try {
            r = plexus::test::http(orders, "POST", "/api/orders", body, {{"Idempotency-Key", key}});
          } catch (const std::exception&) {
          }
          if (r.status == 201 || r.status == 200) {
            ++accepted;
            std::lock_guard<std::mutex> lock(mu);
            ids.push_back(json::parse(r.body).value("orderId", ""));
            break;
          }
          ++refused;
        }
      }
    });
  }
  std::vector<Sample> samples;
  const auto end = started + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(minutes * 60));
  const auto step =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(every));
  while (Clock::now() < end) {
    const double t = std::chrono::duration<double>(Clock::now() - started).count();
    samples.push_back(soak.sample(t, accepted.load()));
    std::this_thread::sleep_until(std::min(end, Clock::now() + step));  // the sampling period
  }
  stop = true;
  for (auto& t : clients) t.join();
  const std::string customer = "soak-" + run;
  // Every accepted order reaches a terminal state.
  const bool completed = plexus::test::eventually(
      [&] {
        return soak.scalar("SELECT COUNT(*) FROM order_service.orders_view WHERE customer_id = '" +
                           customer + "' AND status IN ('Shipped', 'Delivered', 'Cancelled')") ==
               accepted.load();
      },
      300000, 500);
  const int64_t terminal =
      soak.scalar("SELECT COUNT(*) FROM order_service.orders_view WHERE customer_id = '" +
                  customer + "' AND status IN ('Shipped', 'Delivered', 'Cancelled')");
  samples.push_back(
      soak.sample(std::chrono::duration<double>(Clock::now() - started).count(), accepted.load()));
  writeOutputs(out, samples);

  // Slopes after the warm-up (the first fifth of the run, at least 30 s).
  const double warm = std::max(30.0, minutes * 60 / 5);
  auto fit = [&](const std::function<double(const Sample&)>& f) {
    std::vector<double> x, y;
    for (const Sample& s : samples) {
      if (s.t < warm || s.t > minutes * 60) continue;
      x.push_back(s.t);
      y.push_back(f(s));
    }
    return slope(x, y) * 3600;  // per hour
  };
  std::printf(
      "[figure] soak: %.1f min at %.1f orders/s, %lld accepted (%lld refused tries), %lld "
      "terminal, %zu samples every %.0f s; slopes after %.0f s of warm-up, per hour:\n",
      minutes, rate, static_cast<long long>(accepted.load()),
      static_cast<long long>(refused.load()), static_cast<long long>(terminal), samples.size(),
      every, warm);
  bool flat = true;
  for (const auto& svc : kServices) {
    const double rss = fit([&](const Sample& s) { return s.hosts.at(svc).rssKiB / 1024.0; });
    const double fds = fit([&](const Sample& s) { return s.hosts.at(svc).fds; });
    const double threads = fit([&](const Sample& s) { return s.hosts.at(svc).threads; });
    const auto& last = samples.back().hosts.at(svc);
    std::printf(
        "[figure]   %-20s RSS %+7.2f MiB/h (now %.1f MiB), fds %+6.1f/h (now %d), "
        "threads %+5.1f/h (now %d)\n",
        svc.c_str(), rss, last.rssKiB / 1024.0, fds, last.fds, threads, last.threads);
    if (std::abs(rss) > 16 || std::abs(fds) > 10 || std::abs(threads) > 5) flat = false;
  }
  const double pgc = fit([](const Sample& s) { return static_cast<double>(s.pgConnections); });
  const double pending = fit([](const Sample& s) { return static_cast<double>(s.outboxPending); });
  const double inboxPerOrder =
      static_cast<double>(samples.back().inboxRows) / std::max<int64_t>(1, accepted.load());
  std::printf(
      "[figure]   PostgreSQL connections %+.1f/h (now %lld); outbox pending %+.1f/h (now "
      "%lld); inbox rows %.1f per order (kept transport.retention_hours for dedupe); "
      "samples in %s/samples.csv\n",
      pgc, static_cast<long long>(samples.back().pgConnections), pending,
      static_cast<long long>(samples.back().outboxPending), inboxPerOrder, out.c_str());
  const std::string logs = system.output();
  size_t errors = 0;
  for (size_t at = logs.find("\"level\":\"error\""); at != std::string::npos;
       at = logs.find("\"level\":\"error\"", at + 1))
    ++errors;
  std::printf("[figure]   host error log lines: %zu\n", errors);
  EXPECT_TRUE(completed) << terminal << " of " << accepted.load() << " orders terminal";
  EXPECT_GT(accepted.load(), static_cast<int64_t>(minutes * 60 * rate * 0.8));
  EXPECT_EQ(errors, 0u);
  if (minutes >= 10) {  // slopes of a short run are warm-up, not trend
    EXPECT_TRUE(flat);
    EXPECT_LT(std::abs(pgc), 10);
    EXPECT_LT(pending, 100);
  }
}

}  // namespace
