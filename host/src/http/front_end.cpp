#include "http/front_end.hpp"

#include "http/connection_limits.hpp"
#include "http/worker_pool.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <unordered_map>
#include <vector>

namespace plexus::http {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr uint64_t kMainListener = 1, kManagementListener = 2, kWake = 3, kFirstConnection = 16;
constexpr auto kScanEvery = std::chrono::milliseconds(100);  // deadline granularity
constexpr auto kLinger = std::chrono::milliseconds(2000);    // reading away after a last answer
constexpr int64_t kLingerBytes = 64ll << 20;
constexpr size_t kReadChunk = 64 << 10;
constexpr int kReadsPerEvent = 4;
constexpr int kAcceptsPerEvent = 512;
constexpr int kFdReserve = 256;  // store, broker, plugin files, logs: never given to clients
constexpr auto kLogEvery = std::chrono::seconds(10);
constexpr const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

enum class Phase {
  Idle,       // between requests (or before the first)
  Head,       // reading a request head
  Body,       // reading its body
  Handling,   // a worker has it
  Writing,    // writing the answer
  Lingering,  // answered with Connection: close; reading away until the client closes
};

struct Connection {
  uint64_t id = 0;
  int fd = -1;
  Port port = Port::Main;
  std::string peer;
  Phase phase = Phase::Idle;
  RequestParser parser;
  std::string in;  // received, not parsed yet (at most one read's worth)
  std::string out;
  size_t outOff = 0;
  Clock::time_point deadline;
  uint32_t events = 0;
  uint64_t requests = 0;
  uint64_t seq = 0;  // the request a worker's answer belongs to
  bool busy = false;
  bool eof = false;         // the client closed its side
  bool closeAfter = false;  // close once the answer is written
  bool headRequest = false;
  bool http10 = false;
  int64_t lingered = 0;
  std::shared_ptr<std::atomic<bool>> cancelled;  // of the job a worker has

  explicit Connection(RequestParser::Limits limits) : parser(limits) {}
};

struct Completion {
  uint64_t id;
  uint64_t seq;
  std::string bytes;
  bool close;
};

std::string peerText(const sockaddr_storage& sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&sa)->sin_addr, buf, sizeof buf);
  } else if (sa.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

const char* refusalReason(int status) {
  switch (status) {
    case 408:
      return "timeout";
    case 413:
      return "body_too_large";
    case 414:
    case 431:
      return "head_too_large";
    default:
      return "bad_request";
  }
}

// Warn once, then at most every kLogEvery per reason, with the count since the last line.
class RefusalLog {
 public:
  explicit RefusalLog(const char* message) : message_(message) {}
  void note(const std::string& reason, json fields) {
    Entry& e = entries_[reason];
    ++e.count;
    const auto now = Clock::now();
    if (e.logged && now - e.last < kLogEvery) return;
    fields["reason"] = reason;
    fields["refused"] = e.count;
    fields["since_ms"] =
        e.logged ? std::chrono::duration_cast<std::chrono::milliseconds>(now - e.last).count() : 0;
    log::write(log::Level::Warn, message_, fields);
    e.count = 0;
    e.last = now;
    e.logged = true;
  }

 private:
  struct Entry {
    uint64_t count = 0;
    Clock::time_point last;
    bool logged = false;
  };
  const char* message_;
  std::map<std::string, Entry> entries_;
};

}  // namespace

struct FrontEnd::Loop {
  Loop(const Options& o, Handler& h, Metrics& m, WorkerPool& main, WorkerPool& mgmt, int maxConn)
      : options(o),
        handler(h),
        metrics(m),
        workers(main),
        managementWorkers(mgmt),
        limits(static_cast<size_t>(maxConn), static_cast<size_t>(o.maxConnectionsPerClient)) {
    ep = epoll_create1(EPOLL_CLOEXEC);
    wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (ep < 0 || wake < 0)
      throw std::runtime_error("epoll/eventfd: " + std::string(strerror(errno)));
    watch(wake, kWake, EPOLLIN);
    defineMetrics();
  }
  ~Loop() {
    if (spare >= 0) ::close(spare);
    ::close(wake);
    ::close(ep);
  }

  void defineMetrics() {
    std::string err;
    openGauge = metrics.define(Metrics::Kind::Gauge, "plexus_http_connections_open",
                               "Open HTTP connections by listener (main, management)", {"listener"},
                               {}, err, true);
    connRefused = metrics.define(
        Metrics::Kind::Counter, "plexus_http_connections_refused_total",
        "Connections refused at accept: max_connections, per_client, management (listener cap), "
        "fd_limit (out of file descriptors)",
        {"reason"}, {}, err, true);
    reqRefused = metrics.define(
        Metrics::Kind::Counter, "plexus_http_requests_refused_total",
        "Requests the front end answered itself: header_timeout, body_timeout, request_timeout "
        "(handler deadline), write_timeout, queue_full, head_too_large, body_too_large, "
        "bad_request",
        {"reason"}, {}, err, true);
    for (const char* l : {"main", "management"}) metrics.update(openGauge, {l}, 0);
    for (const char* r : {"max_connections", "per_client", "management", "fd_limit"})
      metrics.update(connRefused, {r}, 0);
    for (const char* r : {"header_timeout", "body_timeout", "request_timeout", "write_timeout",
                          "queue_full", "head_too_large", "body_too_large", "bad_request"})
      metrics.update(reqRefused, {r}, 0);
  }

  void watch(int fd, uint64_t tag, uint32_t events) {
    epoll_event e{};
    e.events = events;
    e.data.u64 = tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  }

  void signal() {
    const uint64_t one = 1;
    (void)!::write(wake, &one, sizeof one);
  }

  // ---- the loop --------------------------------------------------------------------------------

  void run() {
    epoll_event events[256];
    auto nextScan = Clock::now() + kScanEvery;
    while (!stopping.load()) {
      const int n = epoll_wait(ep, events, 256, static_cast<int>(kScanEvery.count()));
      if (n < 0 && errno != EINTR) {
        log::write(log::Level::Error, "http loop: epoll_wait failed",
                   json{{"error", strerror(errno)}});
        break;
      }
      for (int i = 0; i < n; ++i) guarded(events[i].data.u64, [&] { onEvent(events[i]); });
      guarded(0, [&] { takePipelined(); });
      const auto now = Clock::now();
      if (now >= nextScan) {
        guarded(0, [&] { expire(now); });
        resumeListeners(now);
        nextScan = now + kScanEvery;
      }
      if (!accepting.load() && listening) guarded(0, [&] { closeListeners(); });
    }
    closeAll();
  }

  // The loop must outlive any one connection's trouble (say, out of memory while answering it):
  // log, drop that connection, go on.
  template <typename F>
  void guarded(uint64_t id, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      log::write(log::Level::Error, "http loop: dropped a connection after an error",
                 json{{"error", e.what()}});
      if (Connection* c = find(id)) close(*c);
    }
  }

  void onEvent(const epoll_event& e) {
    const uint64_t tag = e.data.u64;
    if (tag == kMainListener || tag == kManagementListener) {
      accept(tag == kMainListener ? Port::Main : Port::Management);
      return;
    }
    if (tag == kWake) {
      uint64_t n = 0;
      (void)!::read(wake, &n, sizeof n);
      takeCompletions();
      return;
    }
    Connection* c = find(tag);
    if (c == nullptr) return;
    if ((e.events & EPOLLERR) != 0) return close(*c);
    if ((e.events & (EPOLLIN | EPOLLHUP)) != 0 && !onReadable(*c)) return;
    if ((e.events & EPOLLOUT) != 0) flush(*c);
  }

  // Requests that arrived behind an answered one: parsed here rather than from inside flush().
  void takePipelined() {
    while (!pipelined.empty()) {
      std::vector<uint64_t> ids;
      ids.swap(pipelined);
      for (uint64_t id : ids) {
        Connection* c = find(id);
        if (c != nullptr && c->phase == Phase::Idle && !c->in.empty()) process(*c);
      }
    }
  }

  Connection* find(uint64_t id) {
    auto it = conns.find(id);
    return it == conns.end() ? nullptr : it->second.get();
  }

  // ---- accepting -------------------------------------------------------------------------------

  void accept(Port port) {
    const int lfd = port == Port::Main ? mainFd : managementFd;
    for (int i = 0; i < kAcceptsPerEvent; ++i) {
      sockaddr_storage sa{};
      socklen_t len = sizeof sa;
      const int fd =
          accept4(lfd, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EMFILE || errno == ENFILE) {
          outOfDescriptors(port, lfd);
          return;
        }
        log::write(log::Level::Error, "http: accept failed", json{{"error", strerror(errno)}});
        return;
      }
      admit(port, fd, peerText(sa));
    }
  }

  void admit(Port port, int fd, std::string peer) {
    const char* refusal = nullptr;
    if (port == Port::Main) {
      const auto v = limits.admit(peer);
      if (v != ConnectionLimits::Verdict::Admit) refusal = verdictLabel(v);
    } else if (managementOpen >= options.maxManagementConnections) {
      refusal = "management";
    }
    if (refusal != nullptr) {
      refuseConnection(fd, refusal, peer);
      return;
    }
    if (port == Port::Management) ++managementOpen;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Connection>(options.head);
    c->id = nextId++;
    c->fd = fd;
    c->port = port;
    c->peer = std::move(peer);
    c->deadline = Clock::now() + std::chrono::milliseconds(options.headerTimeoutMs);
    c->events = EPOLLIN;
    watch(fd, c->id, EPOLLIN);
    conns.emplace(c->id, std::move(c));
    publishOpen(port);
  }

  // A short 503 on a fresh socket, then close: the client learns why instead of hanging.
  void refuseConnection(int fd, const char* reason, const std::string& peer) {
    static const std::string busy = [] {
      Response r = errorResponse(503, "too many connections; try again later");
      r.headers.emplace_back("Retry-After", "1");
      return serialize(r, false, false, false);
    }();
    (void)!::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
    metrics.update(connRefused, {reason}, 1);
    connectionLog.note(reason,
                       json{{"client", peer},
                            {"open", limits.open()},
                            {"max_connections", limits.maxTotal()},
                            {"max_connections_per_client", options.maxConnectionsPerClient}});
  }

  // EMFILE: accept with the spare descriptor and refuse, so the pending connection does not keep
  // the listener readable forever (a busy loop). Without a spare, pause the listener briefly.
  void outOfDescriptors(Port port, int lfd) {
    if (spare >= 0) {
      ::close(spare);
      spare = -1;
      const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) refuseConnection(fd, "fd_limit", "");
      spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd >= 0) return;
    }
    metrics.update(connRefused, {"fd_limit"}, 1);
    connectionLog.note("fd_limit", json{{"open", limits.open()}});
    epoll_ctl(ep, EPOLL_CTL_DEL, lfd, nullptr);
    (port == Port::Main ? mainPausedUntil : managementPausedUntil) =
        Clock::now() + std::chrono::milliseconds(100);
  }

  void resumeListeners(Clock::time_point now) {
    if (!listening) return;
    auto resume = [&](Clock::time_point& until, int fd, uint64_t tag) {
      if (until == Clock::time_point() || now < until) return;
      until = Clock::time_point();
      watch(fd, tag, EPOLLIN);
    };
    resume(mainPausedUntil, mainFd, kMainListener);
    if (managementFd >= 0) resume(managementPausedUntil, managementFd, kManagementListener);
  }

  // Stop accepting: the listeners leave the loop (the owner closes them); idle connections close
  // after a last look for a request that already arrived.
  void closeListeners() {
    listening = false;
    epoll_ctl(ep, EPOLL_CTL_DEL, mainFd, nullptr);
    if (managementFd >= 0) epoll_ctl(ep, EPOLL_CTL_DEL, managementFd, nullptr);
    std::vector<uint64_t> idle;
    for (const auto& [id, c] : conns) {
      if (c->phase == Phase::Idle) idle.push_back(id);
    }
    for (uint64_t id : idle) {
      Connection* c = find(id);
      if (c == nullptr || !onReadable(*c)) continue;
      c = find(id);
      if (c != nullptr && c->phase == Phase::Idle) close(*c);
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      listenersClosed = true;
    }
    cv.notify_all();
  }

  // ---- reading ---------------------------------------------------------------------------------

  // False when the connection was closed.
  bool onReadable(Connection& c) {
    if (c.phase == Phase::Handling || c.phase == Phase::Writing) {  // only a hang-up gets here
      close(c);
      return false;
    }
    for (int i = 0; i < kReadsPerEvent && !c.eof; ++i) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        if (c.phase == Phase::Lingering) {
          c.lingered += n;
          if (c.lingered > kLingerBytes) {
            close(c);
            return false;
          }
          continue;
        }
        c.in.append(buffer, static_cast<size_t>(n));
        if (c.in.size() >= kReadChunk) break;  // parse before reading more: bounded buffer
        continue;
      }
      if (n == 0) {
        c.eof = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      close(c);
      return false;
    }
    if (c.phase == Phase::Lingering) {
      if (c.eof) close(c);
      return !c.eof;
    }
    if (!process(c)) return false;
    // The client closed its side: finish what was asked (closing after the answer), else close.
    if (c.eof) {
      if (c.phase == Phase::Idle || c.phase == Phase::Head || c.phase == Phase::Body) {
        close(c);
        return false;
      }
      c.closeAfter = true;
      interest(c);
    }
    return true;
  }

  // Parses what was received; dispatches a complete request. False when the connection closed.
  bool process(Connection& c) {
    const uint64_t id = c.id;
    for (;;) {
      if (c.phase == Phase::Idle) {
        if (c.in.empty()) return true;
        c.phase = Phase::Head;
        if (c.requests++ > 0)
          c.deadline = Clock::now() + std::chrono::milliseconds(options.headerTimeoutMs);
      }
      const size_t used = c.parser.feed(c.in.data(), c.in.size());
      c.in.erase(0, used);
      switch (c.parser.state()) {
        case RequestParser::State::Head:
          return true;
        case RequestParser::State::Failed: {
          const auto& f = c.parser.failure();
          const Request* head = c.parser.request().method.empty() ? nullptr : &c.parser.request();
          return refuse(c, head, f.status, f.message, refusalReason(f.status), true);
        }
        case RequestParser::State::Body:
          if (c.phase == Phase::Head) {
            if (!beginBody(c)) return find(id) != nullptr;
            continue;
          }
          if (c.in.empty()) return true;
          continue;
        case RequestParser::State::Done:
          if (c.phase == Phase::Head) markBusy(c);
          if (c.parser.oversized()) {
            return refuse(
                c, &c.parser.request(), 413,
                "request body larger than " + std::to_string(options.maxBodyBytes) + " bytes",
                "body_too_large", false);
          }
          return dispatch(c);
      }
    }
  }

  // The head is in: how the body is read. False when the request was answered already.
  bool beginBody(Connection& c) {
    c.phase = Phase::Body;
    markBusy(c);
    c.deadline = Clock::now() + std::chrono::milliseconds(options.bodyTimeoutMs);
    const int64_t length = c.parser.contentLength();
    const int64_t max = options.maxBodyBytes;
    // Too large to read away, or the client waits for permission: answer now and close.
    if (length > max && (length > max + options.discardBytes || c.parser.expectsContinue())) {
      refuse(c, &c.parser.request(), 413,
             "request body larger than " + std::to_string(max) + " bytes", "body_too_large", true);
      return false;
    }
    c.parser.limitBody(max, options.discardBytes);
    if (c.parser.expectsContinue()) {
      c.out.append(kContinue, sizeof kContinue - 1);
      if (!flush(c)) return false;
    }
    return true;
  }

  void markBusy(Connection& c) {
    if (c.busy) return;
    c.busy = true;
    ++busyCount;
  }
  void markIdle(Connection& c) {
    if (!c.busy) return;
    c.busy = false;
    if (--busyCount == 0) cv.notify_all();
  }

  // ---- handing over ----------------------------------------------------------------------------

  bool dispatch(Connection& c) {
    auto request = std::make_shared<Request>(std::move(c.parser.request()));
    request->peer = c.peer;
    request->port = c.port;
    c.headRequest = request->method == "HEAD";
    c.http10 = request->version == "HTTP/1.0";
    c.closeAfter = !request->keepAlive;
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    const uint64_t id = c.id, seq = ++c.seq;
    const bool head = c.headRequest, http10 = c.http10;
    WorkerPool& pool = c.port == Port::Management ? managementWorkers : workers;
    const bool taken = pool.trySubmit([this, id, seq, cancelled, request, head, http10] {
      work(id, seq, *cancelled, *request, head, http10);
    });
    if (!taken) {
      Response busy = handler.refuse(request.get(), 503, "server busy; try again later");
      busy.headers.emplace_back("Retry-After", "1");
      metrics.update(reqRefused, {"queue_full"}, 1);
      requestLog.note("queue_full", json{{"queued", pool.queued()}});
      return respond(c, busy, false);
    }
    c.phase = Phase::Handling;
    c.cancelled = std::move(cancelled);
    c.deadline = Clock::now() + std::chrono::milliseconds(options.requestTimeoutMs);
    interest(c);
    return true;
  }

  // On a worker.
  void work(uint64_t id, uint64_t seq, const std::atomic<bool>& cancelled, Request& request,
            bool head, bool http10) {
    if (cancelled.load()) return;  // answered already (deadline) or the client left
    Response r;
    try {
      r = handler.handle(request);
    } catch (...) {
      r = errorResponse(500, "internal error");
    }
    if (cancelled.load()) return;
    const bool keep = request.keepAlive && accepting.load() && !r.close;
    Completion done{id, seq, serialize(r, head, keep, http10), !keep};
    {
      std::lock_guard<std::mutex> lock(mu);
      completions.push_back(std::move(done));
    }
    signal();
  }

  void takeCompletions() {
    std::vector<Completion> ready;
    {
      std::lock_guard<std::mutex> lock(mu);
      ready.swap(completions);
    }
    for (Completion& done : ready) {
      Connection* c = find(done.id);
      if (c == nullptr || c->phase != Phase::Handling || c->seq != done.seq) continue;
      c->cancelled.reset();
      c->out += done.bytes;
      c->closeAfter = c->closeAfter || done.close;
      c->phase = Phase::Writing;
      c->deadline = Clock::now() + std::chrono::milliseconds(options.bodyTimeoutMs);
      flush(*c);
    }
  }

  // ---- answering -------------------------------------------------------------------------------

  // The front end's own answer; `close` ends the connection after it.
  bool refuse(Connection& c, const Request* head, int status, const std::string& message,
              const char* reason, bool close) {
    if (head != nullptr) {
      c.headRequest = head->method == "HEAD";
      c.http10 = head->version == "HTTP/1.0";
      close = close || !head->keepAlive;
    }
    Response r = handler.refuse(head, status, message);
    metrics.update(reqRefused, {reason}, 1);
    requestLog.note(reason, json{{"status", status}, {"client", c.peer}});
    return respond(c, r, close);
  }

  bool respond(Connection& c, const Response& r, bool close) {
    markBusy(c);
    const bool keep = !close && !c.closeAfter && accepting.load();
    c.out += serialize(r, c.headRequest, keep, c.http10);
    c.closeAfter = !keep;
    c.phase = Phase::Writing;
    c.deadline = Clock::now() + std::chrono::milliseconds(options.bodyTimeoutMs);
    return flush(c);
  }

  // Writes what is pending. False when the connection was closed.
  bool flush(Connection& c) {
    while (c.outOff < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.outOff, c.out.size() - c.outOff, MSG_NOSIGNAL);
      if (n > 0) {
        c.outOff += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        interest(c);
        return true;
      }
      close(c);
      return false;
    }
    c.out.clear();
    c.out.shrink_to_fit();
    c.outOff = 0;
    if (c.phase != Phase::Writing) {  // an interim 100 Continue
      interest(c);
      return true;
    }
    markIdle(c);
    if (c.closeAfter || !accepting.load()) return linger(c);
    c.parser.reset();
    c.phase = Phase::Idle;
    c.deadline = Clock::now() + std::chrono::milliseconds(options.keepAliveMs);
    interest(c);
    if (!c.in.empty()) pipelined.push_back(c.id);  // parsed after this turn's events
    return true;
  }

  // Half-close and read away until the client closes, so it reads the answer instead of a reset.
  bool linger(Connection& c) {
    if (c.eof) {
      close(c);
      return false;
    }
    ::shutdown(c.fd, SHUT_WR);
    c.phase = Phase::Lingering;
    c.in.clear();
    c.in.shrink_to_fit();
    c.deadline = Clock::now() + kLinger;
    interest(c);
    return true;
  }

  void interest(Connection& c) {
    uint32_t want = 0;
    const bool reading = c.phase == Phase::Idle || c.phase == Phase::Head ||
                         c.phase == Phase::Body || c.phase == Phase::Lingering;
    if (reading && !c.eof) want |= EPOLLIN;
    if (c.outOff < c.out.size()) want |= EPOLLOUT;
    if (want == c.events) return;
    epoll_event e{};
    e.events = want;
    e.data.u64 = c.id;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
    c.events = want;
  }

  void close(Connection& c) {
    if (c.cancelled) c.cancelled->store(true);
    markIdle(c);
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    const Port port = c.port;
    if (port == Port::Main) {
      limits.release(c.peer);
    } else {
      --managementOpen;
    }
    conns.erase(c.id);  // c is gone
    publishOpen(port);
  }

  void publishOpen(Port port) {
    if (port == Port::Main) {
      metrics.update(openGauge, {"main"}, static_cast<double>(limits.open()));
    } else {
      metrics.update(openGauge, {"management"}, managementOpen);
    }
  }

  // ---- deadlines -------------------------------------------------------------------------------

  void expire(Clock::time_point now) {
    std::vector<uint64_t> due;
    for (const auto& [id, c] : conns) {
      if (c->deadline <= now) due.push_back(id);
    }
    for (uint64_t id : due) {
      Connection* c = find(id);
      if (c != nullptr) timeout(*c);
    }
  }

  void timeout(Connection& c) {
    const auto ms = [](int v) { return std::to_string(v) + " ms"; };
    switch (c.phase) {
      case Phase::Idle:  // a new connection that never sent a byte counts as a slow head
        if (c.requests == 0) {
          metrics.update(reqRefused, {"header_timeout"}, 1);
          requestLog.note("header_timeout", json{{"client", c.peer}, {"bytes", 0}});
        }
        return close(c);
      case Phase::Head:
        refuse(c, nullptr, 408, "request head not received within " + ms(options.headerTimeoutMs),
               "header_timeout", true);
        return;
      case Phase::Body:
        refuse(c, &c.parser.request(), 408,
               "request body not received within " + ms(options.bodyTimeoutMs), "body_timeout",
               true);
        return;
      case Phase::Handling:
        if (c.cancelled) c.cancelled->store(true);
        c.cancelled.reset();
        refuse(c, nullptr, 503,
               "no answer within the request deadline of " + ms(options.requestTimeoutMs),
               "request_timeout", true);
        return;
      case Phase::Writing:
        metrics.update(reqRefused, {"write_timeout"}, 1);
        requestLog.note("write_timeout", json{{"client", c.peer}});
        return close(c);
      case Phase::Lingering:
        return close(c);
    }
  }

  void closeAll() {
    std::vector<uint64_t> all;
    all.reserve(conns.size());
    for (const auto& [id, c] : conns) all.push_back(id);
    for (uint64_t id : all) {
      Connection* c = find(id);
      if (c != nullptr) close(*c);
    }
  }

  const Options& options;
  Handler& handler;
  Metrics& metrics;
  WorkerPool& workers;
  WorkerPool& managementWorkers;
  ConnectionLimits limits;
  int ep = -1;
  int wake = -1;
  int spare = -1;
  int mainFd = -1;
  int managementFd = -1;
  bool listening = true;
  Clock::time_point mainPausedUntil, managementPausedUntil;
  int managementOpen = 0;
  uint64_t nextId = kFirstConnection;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns;
  std::vector<uint64_t> pipelined;
  char buffer[kReadChunk];
  int64_t openGauge = 0, connRefused = 0, reqRefused = 0;
  RefusalLog connectionLog{"connections refused"};
  RefusalLog requestLog{"requests refused"};

  std::atomic<bool> stopping{false};
  std::atomic<bool> accepting{true};
  std::atomic<int> busyCount{0};
  std::mutex mu;  // completions, listenersClosed; cv: busyCount reached 0, listeners closed
  std::condition_variable cv;
  std::vector<Completion> completions;
  bool listenersClosed = false;
};

FrontEnd::FrontEnd(Options options, Handler& handler, Metrics& metrics)
    : options_(std::move(options)), handler_(handler), metrics_(metrics) {}

FrontEnd::~FrontEnd() { stop(); }

namespace {

std::unique_ptr<Poco::Net::ServerSocket> listen(const std::string& host, int port, int backlog) {
  // SO_REUSEADDR for quick restarts, never SO_REUSEPORT: a second host on the same port must fail
  // instead of silently sharing the traffic.
  auto s = std::make_unique<Poco::Net::ServerSocket>();
  s->bind(Poco::Net::SocketAddress(host, static_cast<Poco::UInt16>(port)), true, false);
  s->listen(backlog);
  s->setBlocking(false);
  return s;
}

// Raises the soft descriptor limit to the hard one and returns it.
int64_t descriptorLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? int64_t{1} << 20 : static_cast<int64_t>(rl.rlim_cur);
}

}  // namespace

void FrontEnd::start() {
  const int64_t fds = descriptorLimit();
  const int64_t room = fds - kFdReserve - options_.maxManagementConnections;
  maxConnections_ =
      static_cast<int>(std::max<int64_t>(16, std::min<int64_t>(options_.maxConnections, room)));
  if (maxConnections_ < options_.maxConnections) {
    log::write(log::Level::Warn, "http.limits.max_connections lowered to fit the descriptor limit",
               json{{"configured", options_.maxConnections},
                    {"effective", maxConnections_},
                    {"nofile", fds}});
  }
  main_ = listen(options_.host, options_.port, options_.backlog);
  port_ = main_->address().port();
  if (options_.managementPort >= 0) {
    management_ = listen(options_.host, options_.managementPort, 64);
    managementPort_ = management_->address().port();
  }
  workers_ = std::make_unique<WorkerPool>("http-worker", options_.workers,
                                          static_cast<size_t>(options_.queue));
  managementWorkers_ = std::make_unique<WorkerPool>("http-mgmt", options_.managementWorkers,
                                                    static_cast<size_t>(options_.managementQueue));
  loop_ = std::make_unique<Loop>(options_, handler_, metrics_, *workers_, *managementWorkers_,
                                 maxConnections_);
  loop_->mainFd = main_->impl()->sockfd();
  loop_->watch(loop_->mainFd, kMainListener, EPOLLIN);
  if (management_) {
    loop_->managementFd = management_->impl()->sockfd();
    loop_->watch(loop_->managementFd, kManagementListener, EPOLLIN);
  }
  Loop* loop = loop_.get();
  thread_ = std::thread([loop] { loop->run(); });
  pthread_setname_np(thread_.native_handle(), "http-loop");
}

void FrontEnd::stopAccepting() {
  if (!loop_) return;
  loop_->accepting = false;
  loop_->signal();
  std::unique_lock<std::mutex> lock(loop_->mu);
  // The loop closes the listeners within one turn; bounded in case it already stopped.
  loop_->cv.wait_for(lock, std::chrono::seconds(5), [&] { return loop_->listenersClosed; });
  lock.unlock();
  if (main_) main_->close();
  if (management_) management_->close();
}

bool FrontEnd::waitIdle(std::chrono::milliseconds budget) {
  if (!loop_) return true;
  const auto deadline = Clock::now() + budget;
  auto idle = [&] {
    return loop_->busyCount.load() == 0 && workers_->busy() == 0 && workers_->queued() == 0 &&
           managementWorkers_->busy() == 0 && managementWorkers_->queued() == 0;
  };
  std::unique_lock<std::mutex> lock(loop_->mu);
  while (!idle()) {
    if (Clock::now() >= deadline) return false;
    // Workers finishing do not notify: look again every few milliseconds.
    loop_->cv.wait_for(lock, std::chrono::milliseconds(20));
  }
  return true;
}

void FrontEnd::stop() {
  if (!loop_) return;
  loop_->stopping = true;
  loop_->signal();
  if (thread_.joinable()) thread_.join();
  workers_->stop();  // jobs of closed connections were cancelled: they return at once
  managementWorkers_->stop();
  loop_.reset();
  main_.reset();
  management_.reset();
}

}  // namespace plexus::http
