#include "plugin/crash_report.hpp"

#include <plexus/sdk/rfc3339.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace plexus::plugin::crash {
namespace {

// Trivially initialised, so reading it from the handler runs no TLS constructor.
thread_local const CallScope::Frame* tlsFrame = nullptr;
thread_local bool tlsAltStack = false;

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
std::once_flag installed;
char service[128];  // copied at install; read by the handler
std::atomic<int> reporting{0};

const char* signalName(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "signal";
  }
}

// Appends to a fixed buffer; never allocates. Overlong text is cut, the line stays valid JSON.
class Line {
 public:
  void raw(const char* s) { raw(s, std::strlen(s)); }
  void raw(const char* s, size_t n) {
    for (size_t i = 0; i < n && used_ < kRoom; ++i) buf_[used_++] = s[i];
  }
  void str(const char* s, size_t n) {
    static const char kHex[] = "0123456789abcdef";
    raw("\"");
    const size_t limit = used_ + kStringRoom;  // ~10 strings per line: the line always fits
    for (size_t i = 0; i < n && used_ < limit; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"' || c == '\\') {
        const char esc[2] = {'\\', static_cast<char>(c)};
        raw(esc, 2);
      } else if (c < 0x20) {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        raw(esc, 6);
      } else {
        raw(reinterpret_cast<const char*>(&c), 1);
      }
    }
    raw("\"");
  }
  void field(const char* key, const char* s, size_t n) {
    raw(",\"");
    raw(key);
    raw("\":");
    str(s, n);
  }
  void number(uint64_t v, int width = 0, int base = 10) {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = "0123456789abcdef"[v % static_cast<uint64_t>(base)];
      v /= static_cast<uint64_t>(base);
    } while (v != 0 && n < 24);
    while (n < width && n < 24) digits[n++] = '0';
    while (n > 0) raw(&digits[--n], 1);
  }
  // Ends the object even when the room ran out, so the line is always valid JSON.
  void close() {
    buf_[used_++] = '}';
    buf_[used_++] = '\n';
  }
  const char* data() const { return buf_; }
  size_t size() const { return used_; }

 private:
  static constexpr size_t kRoom = 4000;  // leaves room for close()
  static constexpr size_t kStringRoom = 300;
  char buf_[4096];
  size_t used_ = 0;
};

void timestamp(Line& line) {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  const int64_t ms = static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  const int64_t days = rfc3339::daysSinceEpoch(ms);
  const auto rem = static_cast<uint64_t>(ms - days * rfc3339::kDayMs);
  int64_t y = 0;
  unsigned m = 0, d = 0;
  rfc3339::civilFromDays(days, y, m, d);  // arithmetic only
  line.raw(",\"ts\":\"");
  line.number(static_cast<uint64_t>(y), 4);
  line.raw("-");
  line.number(m, 2);
  line.raw("-");
  line.number(d, 2);
  line.raw("T");
  line.number(rem / 3600000, 2);
  line.raw(":");
  line.number(rem / 60000 % 60, 2);
  line.raw(":");
  line.number(rem / 1000 % 60, 2);
  line.raw(".");
  line.number(rem % 1000, 3);
  line.raw("Z\"");
}

void describe(Line& line, const CallScope::Frame& f, bool inner) {
  if (inner) {
    line.field("plugin", f.plugin, f.pluginSize);
    line.field("component", f.component, f.componentSize);
  } else {
    // The outer call of a nested one: "orders/PostOrder" (route POST /api/orders).
    line.raw(",\"inside\":{");
    line.raw("\"plugin\":");
    line.str(f.plugin, f.pluginSize);
    line.field("component", f.component, f.componentSize);
  }
  if (std::strcmp(f.kind, "route") == 0) {
    line.field("route", f.what, f.whatSize);
    line.field("request_id", f.id, f.idSize);
  } else if (std::strcmp(f.kind, "message") == 0) {
    line.field("message_type", f.what, f.whatSize);
    line.field("message_id", f.id, f.idSize);
  } else {
    line.field("hook", f.kind, std::strlen(f.kind));
  }
  if (!inner) line.raw("}");
}

size_t report(int fd, int sig, const siginfo_t* info) {
  Line line;
  const CallScope::Frame* f = tlsFrame;
  line.raw("{\"level\":\"fatal\",\"msg\":\"");
  line.raw(signalName(sig));
  line.raw(f != nullptr ? " in plugin code: the process dies of it\""
                        : " outside plugin code: the process dies of it\"");
  line.field("service", service, std::strlen(service));
  timestamp(line);
  line.field("signal", signalName(sig), std::strlen(signalName(sig)));
  if (info != nullptr && (sig == SIGSEGV || sig == SIGBUS)) {
    line.raw(",\"fault_address\":\"0x");
    line.number(reinterpret_cast<uintptr_t>(info->si_addr), 1, 16);
    line.raw("\"");
  }
  if (f != nullptr) {
    describe(line, *f, true);
    if (f->outer != nullptr) describe(line, *f->outer, false);
  }
  line.close();
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

void onFatalSignal(int sig, siginfo_t* info, void*) {
  const int saved = errno;
  if (reporting.exchange(1) == 0) report(STDOUT_FILENO, sig, info);  // one report per process
  // The default action, not the previous handler: Poco's throws a SignalException, which ends in
  // std::terminate and a SIGABRT that hides what happened.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  errno = saved;
  raise(sig);  // blocked while this handler runs: delivered, to the restored action, on return
}

// One alternate stack per thread that runs plugin code, so a stack overflow still reports.
void ensureAltStack() {
  if (tlsAltStack) return;
  tlsAltStack = true;
  const size_t size = 64 * 1024;
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;  // the report then needs the thread's own stack
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = size;
  if (sigaltstack(&ss, nullptr) != 0) munmap(mem, size);
  // Threads live as long as the process's pools: the stack is never freed.
}

}  // namespace

void install(const std::string& serviceName) {
  const size_t n =
      serviceName.size() < sizeof service - 1 ? serviceName.size() : sizeof service - 1;
  std::memcpy(service, serviceName.data(), n);
  service[n] = '\0';
  std::call_once(installed, [] {
    for (int sig : kSignals) {
      struct sigaction sa {};
      sa.sa_sigaction = &onFatalSignal;
      sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
      sigemptyset(&sa.sa_mask);
      sigaction(sig, &sa, nullptr);
    }
  });
}

CallScope::CallScope(std::string_view plugin, std::string_view component, const char* kind,
                     std::string what, std::string_view id)
    : what_(std::move(what)), frame_{plugin.data(),    plugin.size(), component.data(),
                                     component.size(), kind,          what_.data(),
                                     what_.size(),     id.data(),     id.size(),
                                     tlsFrame} {
  ensureAltStack();
  tlsFrame = &frame_;
}

CallScope::~CallScope() { tlsFrame = frame_.outer; }

size_t writeReportForTesting(int fd, int signal) { return report(fd, signal, nullptr); }

}  // namespace plexus::plugin::crash
