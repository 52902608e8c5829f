#pragma once
// Last words of a process a plugin crashed. Plugins run in the host's process, so nothing can
// isolate a NULL dereference in a C handler; what the host can do is say who was running. A
// fatal-signal handler (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) writes one JSON log line to
// stdout naming the plugin, component and message or route the crashing thread was in, then
// re-raises it under the default action so the process dies of it (exit status "killed by signal":
// the orchestrator restarts it, and a core dump, when enabled, is still written).
//
// Everything the handler touches is async-signal-safe: a thread_local pointer to a Frame set by
// CallScope, fixed buffers, write(2), clock_gettime(2), sigaction(2) and raise(3).

#include <cstddef>
#include <string>
#include <string_view>

namespace plexus::plugin::crash {

// Installs the handlers once per process (later calls only update the service name). Each
// thread that runs plugin code gets an alternate signal stack on first use, so a stack overflow in
// a plugin is reported too.
void install(const std::string& service);

// Marks the calling thread as running one plugin hook until destruction. Nested scopes (a route
// that invokes a receptor) are reported innermost first, with the outer call named as well. The
// viewed strings must outlive the scope; `what` is copied.
class CallScope {
 public:
  // `kind`: "message", "route" or "create" (a static string). `what`: the message type, or
  // "METHOD /path/template". `id`: the message or request id.
  CallScope(std::string_view plugin, std::string_view component, const char* kind, std::string what,
            std::string_view id);
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

  // What the signal handler reads: plain pointers and lengths, stable for the scope.
  struct Frame {
    const char* plugin;
    size_t pluginSize;
    const char* component;
    size_t componentSize;
    const char* kind;
    const char* what;
    size_t whatSize;
    const char* id;
    size_t idSize;
    const Frame* outer;
  };

 private:
  std::string what_;
  Frame frame_;
};

// Writes the crash report for `signal` to `fd` as the handler would (for tests). Returns the
// number of bytes written.
size_t writeReportForTesting(int fd, int signal);

}  // namespace plexus::plugin::crash
