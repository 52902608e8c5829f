#include "live_support.hpp"

#include "support.hpp"

#include "store/store.hpp"
#include "wait.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace plexus::test {

void installFile(const std::string& from, const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  const std::string tmp = dir + "/." + name + ".tmp";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::permissions(tmp, fs::perms(0644));
  fs::rename(tmp, dir + "/" + name);
}

void overwriteInPlace(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  const ssize_t n = ::write(fd, bytes.data(), bytes.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(bytes.size())) throw std::runtime_error("short write to " + path);
}

std::string OrderLoad::stream(int client, int k) {
  return "c" + std::to_string(client) + "-s" + std::to_string(k);
}

OrderLoad::OrderLoad(int port, int clients, int streamsPerClient, std::string readPath,
                     std::string prefix)
    : port_(port),
      streamsPerClient_(streamsPerClient),
      readPath_(std::move(readPath)),
      prefix_(std::move(prefix)) {
  answers_.resize(static_cast<size_t>(clients));
  for (int i = 0; i < clients; ++i) threads_.emplace_back([this, i] { client(i); });
  threads_.emplace_back([this] { reader(); });
}

OrderLoad::~OrderLoad() { stop(); }

void OrderLoad::stop() {
  stopping_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void OrderLoad::client(int i) {
  int64_t n = 0;
  while (!stopping_) {
    const std::string s = stream(i, static_cast<int>(n % streamsPerClient_));
    int64_t seq = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seq = ++seq_[s];
    }
    const std::string id = prefix_ + s + "-" + std::to_string(seq);
    nlohmann::json lines = nlohmann::json::array();
    for (int l = 0; l <= static_cast<int>(seq % 3); ++l) lines.push_back({{"qty", l + 1}});
    const nlohmann::json body{{"orderId", id}, {"stream", s}, {"seq", seq}, {"lines", lines}};
    Answer a;
    const auto t0 = std::chrono::steady_clock::now();
    a.startedUs = std::chrono::duration_cast<std::chrono::microseconds>(t0 - start_).count();
    try {
      const HttpResult r = http(port_, "POST", "/api/live/orders", body.dump());
      a.status = r.status;
      if (r.status == 201) {
        const auto j = nlohmann::json::parse(r.body);
        a.version = j.value("version", "");
        a.receipt = j.contains("receipt");
      }
    } catch (const std::exception&) {
      a.status = -1;
    }
    a.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mu_);
    answers_[static_cast<size_t>(i)].push_back(a);
    ++n;
  }
}

void OrderLoad::reader() {
  while (!stopping_) {
    try {
      if (http(port_, "GET", "/health/ready").status != 200) ++readyFailures_;
      if (!readPath_.empty()) {
        const int status = http(port_, "GET", readPath_).status;
        if (status != 200 && status != 404) ++readFailures_;
        ++reads_;
      }
    } catch (const std::exception&) {
      ++readFailures_;
    }
  }
}

std::vector<std::vector<OrderLoad::Answer>> OrderLoad::answers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return answers_;
}

int64_t OrderLoad::orders() const {
  int64_t n = 0;
  for (const auto& c : answers()) n += static_cast<int64_t>(c.size());
  return n;
}

int64_t OrderLoad::failures() const {
  int64_t n = 0;
  for (const auto& c : answers()) {
    for (const auto& a : c) n += a.status == 201 ? 0 : 1;
  }
  return n;
}

std::string OrderLoad::statuses() const {
  std::map<int, int64_t> n;
  for (const auto& c : answers()) {
    for (const auto& a : c) ++n[a.status];
  }
  std::string out;
  for (const auto& [status, count] : n)
    out += (out.empty() ? "" : ", ") + std::to_string(status) + " x " + std::to_string(count);
  return out;
}

int64_t OrderLoad::readFailures() const { return readFailures_.load(); }
int64_t OrderLoad::readyFailures() const { return readyFailures_.load(); }

std::map<std::string, int64_t> OrderLoad::streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

namespace {
constexpr const char* kLib = "plexus_live.so";

config::Store storeConfig(const LiveHostOptions& o, const TempDir& dir) {
  config::Store c;
  if (o.postgres) {
    const char* url = std::getenv("PLEXUS_PG_URL");
    if (url == nullptr) throw std::runtime_error("PLEXUS_PG_URL is not set (scripts/services)");
    c.kind = "postgresql";
    c.url = url;
    c.schema = o.schema;
  } else {
    c.kind = "sqlite";
    c.url = dir.file("live.db");
  }
  return c;
}
}  // namespace

LiveHost::LiveHost(LiveHostOptions options) : options_(std::move(options)) {
  static int counter = 0;
  if (options_.postgres && options_.schema.empty())
    options_.schema = "live_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  install(options_.first);
  writeConfig("");
  if (options_.postgres) {
    {
      auto db = openStore();
      auto tx = db->begin();
      tx->exec("DROP SCHEMA IF EXISTS " + options_.schema + " CASCADE");
      tx->commit();
    }
    const auto r = runHost({"migrate", "--config", config()});
    if (r.exitCode != 0) throw std::runtime_error("migrate failed: " + r.err);
  }
  host = std::make_unique<HostProcess>(config());
}

LiveHost::~LiveHost() {
  host.reset();
  if (!options_.postgres) return;
  try {
    auto db = openStore();
    auto tx = db->begin();
    for (const auto& r : tx->query("SELECT nspname FROM pg_namespace WHERE nspname = $1 OR "
                                   "nspname LIKE $2",
                                   {options_.schema, options_.schema + "\\_%"})) {
      tx->exec("DROP SCHEMA IF EXISTS " + r[0].asText() + " CASCADE");
    }
    tx->commit();
  } catch (const std::exception&) {
    // a test left the server down; the next run drops it
  }
}

void LiveHost::restart() {
  host.reset();
  host = std::make_unique<HostProcess>(config());
}

void LiveHost::writeConfig(const std::string& sha256) const {
  using nlohmann::json;
  json plugin{{"library", kLib}};
  if (!sha256.empty()) plugin["sha256"] = sha256;
  if (!options_.components.empty()) plugin["components"] = options_.components;
  const config::Store sc = storeConfig(options_, dir);
  json store{{"kind", sc.kind}, {"url", sc.url}};
  if (!sc.schema.empty()) store["schema"] = sc.schema;
  json c{{"service", options_.service},
         {"http", {{"host", "127.0.0.1"}, {"port", 0}}},
         {"store", store},
         {"plugin_dir", dir.path()},
         {"plugins", json::array({plugin})},
         {"reload", {{"drain_timeout_seconds", 10}}},
         {"rebuild", {{"grace_period_seconds", options_.graceSeconds}}}};
  if (options_.broker) {
    const char* amqp = std::getenv("PLEXUS_AMQP_URL");
    if (amqp == nullptr) throw std::runtime_error("PLEXUS_AMQP_URL is not set (scripts/services)");
    c["transport"] = {{"kind", "rabbitmq"}, {"url", amqp}};
  }
  for (auto it = options_.extra.begin(); it != options_.extra.end(); ++it) {
    if (c.contains(it.key()) && c[it.key()].is_object() && it.value().is_object()) {
      c[it.key()].update(it.value());
    } else {
      c[it.key()] = it.value();
    }
  }
  dir.write("host.json", c.dump(2));
}

void LiveHost::install(const std::string& testPluginName) const {
  installFile(testPlugin(testPluginName), dir.path(), kLib);
}

HttpResult LiveHost::reload() const { return http(port(), "POST", "/admin/plugins/live/reload"); }

nlohmann::json LiveHost::place(const std::string& id, const std::string& stream) const {
  using nlohmann::json;
  const auto r = http(port(), "POST", "/api/live/orders",
                      json{{"orderId", id}, {"stream", stream}, {"lines", {{{"qty", 2}}}}}.dump());
  if (r.status != 201) return json{{"status", r.status}, {"body", r.body}};
  return json::parse(r.body);
}

nlohmann::json LiveHost::stats() const {
  const auto r = http(port(), "GET", "/api/live/stats");
  return nlohmann::json::parse(r.body, nullptr, false);
}

HttpResult LiveHost::rebuild(const std::string& component, const nlohmann::json& tables) const {
  nlohmann::json body{{"component", component}};
  if (!tables.is_null()) body["tables"] = tables;
  return http(port(), "POST", "/admin/rebuilds", body.dump());
}

nlohmann::json LiveHost::waitRebuild(const std::string& id, const std::vector<std::string>& states,
                                     int timeoutMs) const {
  nlohmann::json last;
  const bool done = eventually(
      [&] {
        const auto r = http(port(), "GET", "/admin/rebuilds/" + id);
        if (r.status != 200) return false;
        last = nlohmann::json::parse(r.body);
        return std::find(states.begin(), states.end(), last.value("state", "")) != states.end();
      },
      timeoutMs, 100);
  return done ? last : nlohmann::json();
}

std::unique_ptr<store::Store> LiveHost::openStore() const {
  config::Store c = storeConfig(options_, dir);
  c.schema.clear();  // the tests name schemas themselves
  return store::Store::open(c, 1);
}

std::vector<std::string> LiveHost::leftovers() const {
  std::vector<std::string> out;
  auto db = openStore();
  auto tx = db->begin();
  if (options_.postgres) {
    for (const auto& r :
         tx->query("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 OR "
                   "nspname LIKE $2",
                   {options_.schema + "\\_rebuild\\_%", options_.schema + "\\_retired\\_%"}))
      out.push_back(r[0].asText());
  } else {
    for (const auto& r : tx->query("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                   "instr(name, '__retired_') > 0",
                                   {}))
      out.push_back(r[0].asText());
    for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
      if (f.path().filename().string().find(".rebuild-") != std::string::npos)
        out.push_back(f.path().string());
    }
  }
  tx->commit();
  return out;
}

double percentile(std::vector<double> ms, double p) {
  if (ms.empty()) return 0;
  std::sort(ms.begin(), ms.end());
  const size_t at = static_cast<size_t>(p / 100.0 * static_cast<double>(ms.size() - 1) + 0.5);
  return ms[std::min(at, ms.size() - 1)];
}

}  // namespace plexus::test
