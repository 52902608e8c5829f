#include "live_support.hpp"

#include "support.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

OrderLoad::OrderLoad(int port, int clients, int streamsPerClient, std::string readPath)
    : port_(port), streamsPerClient_(streamsPerClient), readPath_(std::move(readPath)) {
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
    const std::string id = s + "-" + std::to_string(seq);
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

int64_t OrderLoad::readFailures() const { return readFailures_.load(); }
int64_t OrderLoad::readyFailures() const { return readyFailures_.load(); }

std::map<std::string, int64_t> OrderLoad::streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

double percentile(std::vector<double> ms, double p) {
  if (ms.empty()) return 0;
  std::sort(ms.begin(), ms.end());
  const size_t at = static_cast<size_t>(p / 100.0 * static_cast<double>(ms.size() - 1) + 0.5);
  return ms[std::min(at, ms.size() - 1)];
}

}  // namespace plexus::test
