#include "load.hpp"

#include "support.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

namespace plexus::hostile {

using Clock = std::chrono::steady_clock;

std::vector<std::string> loopbackAddresses(int first, int count) {
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i)
    out.push_back("127.0." + std::to_string((first + i) / 250) + "." +
                  std::to_string(2 + (first + i) % 250));
  return out;
}

int64_t raiseDescriptorLimit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return static_cast<int64_t>(rl.rlim_cur);
}

ProcStats procStats(pid_t pid) {
  ProcStats s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream in(line);
    std::string key;
    in >> key;
    if (key == "VmRSS:") in >> s.rssKiB;
    if (key == "VmHWM:") in >> s.hwmKiB;
    if (key == "Threads:") in >> s.threads;
  }
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++s.fds;
    }
    closedir(d);
  }
  return s;
}

// ---- SlowClients -------------------------------------------------------------------------------

SlowClients::SlowClients(Options options) : options_(std::move(options)) {}
SlowClients::~SlowClients() { stop(); }

void SlowClients::start() {
  thread_ = std::thread([this] { run(); });
}

void SlowClients::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

SlowClients::Stats SlowClients::stats() const {
  Stats s;
  s.open = open_.load();
  s.opened = opened_.load();
  s.cutOff = cutOff_.load();
  s.answered408 = answered408_.load();
  s.refused503 = refused503_.load();
  s.bytesSent = bytesSent_.load();
  return s;
}

void SlowClients::run() {
  struct Slot {
    int fd = -1;
    size_t sent = 0;
    Clock::time_point next;
  };
  const std::string head = options_.body
                               ? "POST /api/orders HTTP/1.1\r\nHost: hostile\r\nContent-Type: "
                                 "application/json\r\nContent-Length: 1000000\r\n\r\n"
                               : "GET /api/orders/slow HTTP/1.1\r\nHost: hostile\r\nX-Slow: ";
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> phase(0, options_.byteIntervalMs);
  std::vector<Slot> slots(static_cast<size_t>(options_.connections));
  uint64_t reopened = 0;
  auto openSlot = [&](Slot& s, size_t i) {
    s.fd = test::connectLoopback(options_.port, options_.from[i % options_.from.size()]);
    s.sent = 0;
    s.next = Clock::now() + std::chrono::milliseconds(phase(rng));
    if (s.fd < 0) return;
    ++opened_;
    ++open_;
    // A body trickler sends its head at once; a head trickler starts with the request line.
    const std::string first = options_.body ? head : head.substr(0, 4);
    if (::send(s.fd, first.data(), first.size(), MSG_NOSIGNAL) > 0) {
      s.sent = first.size();
      bytesSent_ += first.size();
    }
  };
  auto closed = [&](Slot& s, const char* data, ssize_t n) {
    const std::string got = n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
    if (got.rfind("HTTP/1.1 408", 0) == 0) ++answered408_;
    if (got.rfind("HTTP/1.1 503", 0) == 0) ++refused503_;
    ++cutOff_;
    --open_;
    ::close(s.fd);
    s.fd = -1;
  };
  for (size_t i = 0; i < slots.size() && !stop_; ++i) openSlot(slots[i], i);
  std::vector<pollfd> polls(slots.size());
  char buf[4096];
  while (!stop_) {
    const auto now = Clock::now();
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      if (s.fd < 0) {
        if (reopened < static_cast<uint64_t>(options_.reopenLimit)) {
          ++reopened;
          openSlot(s, i);
        }
        continue;
      }
      if (now < s.next) continue;
      const char c = s.sent < head.size() ? head[s.sent] : (options_.body ? '1' : 'a');
      if (::send(s.fd, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
        ++s.sent;
        ++bytesSent_;
      }
      s.next = now + std::chrono::milliseconds(options_.byteIntervalMs);
    }
    for (size_t i = 0; i < slots.size(); ++i) polls[i] = pollfd{slots[i].fd, POLLIN, 0};
    if (::poll(polls.data(), polls.size(), 20) <= 0) continue;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].fd < 0 || polls[i].revents == 0) continue;
      const ssize_t n = ::recv(slots[i].fd, buf, sizeof buf, MSG_DONTWAIT);
      closed(slots[i], buf, n);  // any answer to an unfinished request ends it
    }
  }
  for (Slot& s : slots) {
    if (s.fd >= 0) ::close(s.fd);
  }
  open_ = 0;
}

// ---- Flood -------------------------------------------------------------------------------------

Flood::Flood(int port, int count, std::vector<std::string> from)
    : port_(port), count_(count), from_(std::move(from)) {}
Flood::~Flood() { release(); }

void Flood::release() {
  for (int fd : fds_) ::close(fd);
  fds_.clear();
}

Flood::Result Flood::open(int timeoutMs, int settleMs) {
  Result r;
  r.attempted = count_;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  const auto started = Clock::now();
  std::vector<int> state(static_cast<size_t>(count_), 0);  // 0 connecting, 1 up, 2 done
  for (int i = 0; i < count_; ++i) {
    const int fd = test::connectLoopback(port_, from_[static_cast<size_t>(i) % from_.size()], true);
    fds_.push_back(fd);
    if (fd < 0) {
      ++r.failed;
      state[static_cast<size_t>(i)] = 2;
      continue;
    }
    epoll_event e{};
    e.events = EPOLLOUT | EPOLLIN;
    e.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  }
  epoll_event events[1024];
  char buf[512];
  auto handle = [&](const epoll_event& e) {
    const size_t i = e.data.u32;
    const int fd = fds_[i];
    if (state[i] == 0) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        ++r.failed;
        state[i] = 2;
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        return;
      }
      ++r.connected;
      state[i] = 1;
      epoll_event m{};
      m.events = EPOLLIN;
      m.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(ep, EPOLL_CTL_MOD, fd, &m);
    }
    if ((e.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0) return;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n > 0 && std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 503", 0) == 0) {
      ++r.refused503;
    } else {
      ++r.closed;
    }
    state[i] = 2;
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
  };
  const auto connectDeadline = started + std::chrono::milliseconds(timeoutMs);
  while (Clock::now() < connectDeadline && std::count(state.begin(), state.end(), 0) > 0) {
    const int n = epoll_wait(ep, events, 1024, 50);
    for (int k = 0; k < n; ++k) handle(events[k]);
  }
  r.connectSeconds = std::chrono::duration<double>(Clock::now() - started).count();
  for (int& s : state) {
    if (s == 0) {
      ++r.failed;
      s = 2;
    }
  }
  const auto settle = Clock::now() + std::chrono::milliseconds(settleMs);
  while (Clock::now() < settle) {
    const int n = epoll_wait(ep, events, 1024, 50);
    for (int k = 0; k < n; ++k) handle(events[k]);
  }
  r.held = static_cast<int>(std::count(state.begin(), state.end(), 1));
  ::close(ep);
  return r;
}

std::string orderJson(const std::string& customer, const std::string& product, double unitPrice) {
  return nlohmann::json{
      {"customerId", customer},
      {"items", {{{"productId", product}, {"quantity", 1}, {"unitPrice", unitPrice}}}},
      {"paymentMethod", "card"},
      {"shippingAddress",
       {{"street", "1 Main St"},
        {"city", "Springfield"},
        {"state", "IL"},
        {"zipCode", "62701"},
        {"country", "US"}}}}
      .dump();
}

// ---- Latency -----------------------------------------------------------------------------------

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t i = std::min(values.size() - 1, static_cast<size_t>(q * (values.size() - 1) + 0.5));
  return values[i];
}

Latency measure(int port, const std::string& request, int clients, int requestsPerClient, int maxMs,
                const std::string& from) {
  const auto stopAt = Clock::now() + std::chrono::milliseconds(maxMs);
  std::mutex mu;
  std::vector<double> all;
  int errors = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      std::vector<double> mine;
      int failed = 0;
      std::unique_ptr<test::RawConnection> c;
      for (int i = 0; i < requestsPerClient && Clock::now() < stopAt; ++i) {
        try {
          if (!c) c = std::make_unique<test::RawConnection>(port, from);
          const auto t0 = Clock::now();
          const bool sent = c->send(request);
          const auto r = sent ? c->read(20000) : test::HttpResult{};
          if (r.status < 200 || r.status >= 300) {
            ++failed;
            c.reset();
            continue;
          }
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        } catch (const std::exception&) {
          ++failed;
          c.reset();
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      all.insert(all.end(), mine.begin(), mine.end());
      errors += failed;
    });
  }
  for (auto& t : threads) t.join();
  Latency l;
  l.requests = static_cast<int>(all.size());
  l.errors = errors;
  l.p50 = quantile(all, 0.50);
  l.p90 = quantile(all, 0.90);
  l.p99 = quantile(all, 0.99);
  l.max = all.empty() ? 0 : all.back();
  l.samples = std::move(all);
  return l;
}

}  // namespace plexus::hostile
