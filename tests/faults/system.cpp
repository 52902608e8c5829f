#include "system.hpp"

#include "store/store.hpp"
#include "wait.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace plexus::faults {

const std::vector<std::string> kServices{
    "order-service",   "customer-service",    "inventory-worker", "payment-worker",
    "shipping-worker", "notification-worker", "analytics-worker"};

std::string schemaOf(const std::string& service) {
  std::string s = service;
  for (char& c : s) c = c == '-' ? '_' : c;
  return s;
}

namespace {
std::string configOf(const std::string& service) {
  return std::string(PLEXUS_SOURCE_DIR) + "/config/" + service + ".json";
}
}  // namespace

System::System(test::SmtpSink& smtp, const std::string& amqpUrls) {
  const char* pg = std::getenv("PLEXUS_PG_URL");
  const char* amqpEnv = std::getenv("PLEXUS_AMQP_URL");
  if (pg == nullptr || (amqpEnv == nullptr && amqpUrls.empty())) {
    throw std::runtime_error("PLEXUS_PG_URL / PLEXUS_AMQP_URL not set (run through scripts/test)");
  }
  const std::string amqp = amqpUrls.empty() ? amqpEnv : amqpUrls.substr(0, amqpUrls.find(','));
  env_ = {{"PLEXUS_HTTP_PORT", "0"},
          {"PLEXUS_PLUGIN_DIR", PLEXUS_PLUGIN_DIR},
          {"PLEXUS_LOG_LEVEL", "info"},  // HostProcess reads the "listening" line
          {"PLEXUS_SMTP_HOST", "127.0.0.1"},
          {"PLEXUS_SMTP_PORT", std::to_string(smtp.port())},
          {"PLEXUS_PG_URL", pg},
          {"PLEXUS_AMQP_URL", amqp},
          // Set either way: a PLEXUS_AMQP_URLS in the test's own environment must not leak in.
          {"PLEXUS_AMQP_URLS", amqpUrls}};
  // A clean slate: each deployment's schema is dropped, then `migrate` creates it again.
  config::Store sc;
  sc.kind = "postgresql";
  sc.url = pg;
  {
    auto db = store::Store::open(sc, 1);
    for (const auto& s : kServices) {
      auto tx = db->begin();
      tx->exec("DROP SCHEMA IF EXISTS " + schemaOf(s) + " CASCADE");
      tx->commit();
    }
  }
  for (const auto& s : kServices) {
    auto r = test::runHost({"migrate", "--config", configOf(s)}, env_);
    if (r.exitCode != 0) throw std::runtime_error("migrate " + s + " failed: " + r.err);
  }
  for (const auto& s : kServices) start(s);
  for (const auto& s : kServices) waitReady(s, 60000);
}

System::~System() {
  std::lock_guard<std::mutex> lock(mu_);
  hosts_.clear();  // SIGKILL: the next run starts from dropped schemas anyway
}

int System::port(const std::string& service) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hosts_.find(service);
  return it == hosts_.end() || !it->second ? 0 : it->second->port();
}

int System::pid(const std::string& service) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hosts_.find(service);
  return it == hosts_.end() || !it->second ? 0 : it->second->pid();
}

void System::kill(const std::string& service) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hosts_.find(service);
  if (it == hosts_.end() || !it->second) return;
  it->second->signal(SIGKILL);
  it->second->waitExit(10000);
  finished_.push_back(it->second->output());
  it->second.reset();
}

void System::start(const std::string& service, const std::string& fault) {
  auto env = env_;
  if (!fault.empty()) env["PLEXUS_FAULT"] = fault;
  std::unique_ptr<test::HostProcess> host;
  try {
    host = std::make_unique<test::HostProcess>(configOf(service), env);
  } catch (const std::runtime_error& e) {
    // An armed host may reach its fault point before it logs "listening": that is the fault.
    const std::string what = e.what();
    if (fault.empty() || what.find("\"fault injected\"") == std::string::npos) throw;
    std::lock_guard<std::mutex> lock(mu_);
    finished_.push_back(what);
    hosts_[service].reset();
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = hosts_[service];
  if (slot) finished_.push_back(slot->output());
  slot = std::move(host);
}

bool System::exited(const std::string& service) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hosts_.find(service);
  if (it == hosts_.end() || !it->second) return true;
  if (!it->second->waitExit(20)) return false;  // waitExit(0) would not look at all
  finished_.push_back(it->second->output());
  it->second.reset();
  return true;
}

bool System::ready(const std::string& service, std::string* why) const {
  const int p = port(service);
  if (p == 0) {
    if (why != nullptr) *why = "no port (not started or exited)";
    return false;
  }
  try {
    auto r = test::http(p, "GET", "/health/ready");
    if (why != nullptr) *why = std::to_string(r.status) + " " + r.body;
    return r.status == 200 && r.body.find("\"broker\":\"connected\"") != std::string::npos;
  } catch (const std::exception& e) {
    if (why != nullptr) *why = e.what();
    return false;
  }
}

void System::waitReady(const std::string& service, int timeoutMs) const {
  std::string why;
  if (!test::eventually([&] { return ready(service, &why); }, timeoutMs, 100)) {
    // The last answer names what is missing (a degraded broker, the store), not just the host.
    throw std::runtime_error(service + " did not become ready within " + std::to_string(timeoutMs) +
                             " ms; last /health/ready: " + why + "\n" + tail(service));
  }
}

std::string System::tail(const std::string& service) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hosts_.find(service);
  if (it == hosts_.end() || !it->second) return service + ": no process";
  const std::string out = it->second->output();
  const size_t keep = 12000;  // the end says why it stopped answering
  return "---- " + service + " (pid " + std::to_string(it->second->pid()) + "), last output:\n" +
         (out.size() > keep ? out.substr(out.size() - keep) : out);
}

std::string System::output() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& o : finished_) out += o;
  for (const auto& [name, h] : hosts_) {
    if (h) out += h->output();
  }
  return out;
}

void System::services(const std::string& cmd, const std::string& name,
                      const std::string& extraEnv) {
  // The test's environment carries PLEXUS_SERVICES_DIR / ports / node when a private pair of
  // servers is in use; scripts/services reads them.
  // A loaded machine restarts RabbitMQ slowly; the default 90 s start deadline is not enough.
  const std::string line = "PLEXUS_SERVICES_TIMEOUT=300 " + extraEnv +
                           (extraEnv.empty() ? "" : " ") + "'" + PLEXUS_SOURCE_DIR +
                           "/scripts/services' " + cmd + " " + name + " >&2";
  const int rc = std::system(line.c_str());
  if (rc != 0) throw std::runtime_error("'" + line + "' failed with status " + std::to_string(rc));
}

std::string System::ctl(const std::string& name, const std::string& args) {
  const std::string line = "PLEXUS_SERVICES_TIMEOUT=300 '" + std::string(PLEXUS_SOURCE_DIR) +
                           "/scripts/services' ctl " + name + " " + args;
  FILE* p = ::popen(line.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run '" + line + "'");
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) throw std::runtime_error("'" + line + "' failed with status " + std::to_string(rc));
  return out;
}

}  // namespace plexus::faults
