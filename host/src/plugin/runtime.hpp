#pragma once
// The loaded plugin set of one host: component instances, the host API table they call, local
// invoke of receptors and the route table the HTTP layer serves.

#include "config/config.hpp"
#include "message/message.hpp"
#include "observability/handler_metrics.hpp"
#include "observability/trace.hpp"
#include "plugin/command_owners.hpp"
#include "plugin/loader.hpp"
#include "store/outbox.hpp"
#include "store/store.hpp"

#include <plexus/abi/plugin_abi.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace plexus {
class Clock;
class Metrics;
}  // namespace plexus

namespace plexus::plugin {

enum class Kind { Receptor, Perspective, Route };

// One component instance of a loaded plugin.
struct Component {
  Component();
  ~Component();  // plexus_host is complete only in runtime.cpp
  Kind kind;
  std::shared_ptr<LoadedPlugin> plugin;
  std::string name;
  std::string id;  // "plugin/component": the handler identity in inbox, deliveries, dead letters
  plexus_create_fn create = nullptr;
  plexus_destroy_fn destroy = nullptr;
  plexus_status (*handleMessage)(void*, plexus_call*, const plexus_message*) = nullptr;
  plexus_status (*handleRequest)(void*, plexus_call*, const plexus_request*) = nullptr;
  std::vector<std::string> types;
  std::vector<plexus_message_kind> kinds;  // receptors: parallel to types (ABI 1.2)
  bool projectsInline = false;             // a perspective registered inline (ABI 1.3)
  std::string method, pathTemplate;        // a route's
  void* instance = nullptr;
  std::unique_ptr<plexus_host> host;
  // Live upgrade (plugin/reload.hpp): the version that replaced this one (null while it serves),
  // and the calls running on this version, each counted until its after-commit work ran.
  std::atomic<Component*> successor{nullptr};
  std::atomic<int> inFlight{0};
};

// The serving version of `c` (`c` itself until a reload replaced it).
Component& current(Component& c);
const Component& current(const Component& c);
// A call starts on the serving version of `c`, which is returned: it is not torn down before the
// matching endCall. Every hook call goes through this pair.
Component& beginCall(Component& c);
void endCall(Component& c);

// After-commit work registered by hooks: run with the transaction's outcome.
struct AfterCommit {
  plexus_after_commit_fn fn;
  void* user;
};
void runAfterCommit(std::vector<AfterCommit>& callbacks, bool committed);

struct Part;  // plugin/unit_of_work.hpp

// The outcome of one handler run inside a caller-owned transaction; what it wrote besides its
// SQL is in the Part the caller passed.
struct Delivery {
  plexus_status status = PLEXUS_FATAL;
  std::string reason;   // set_result text or host error for failures
  std::string version;  // the plugin version that handled it
};

struct RouteBinding {
  std::string method;
  std::string pathTemplate;
  Component* component;
};

// A request as the HTTP layer hands it over.
struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  std::string requestId;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpResponse {
  int status = 500;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class Runtime {
 public:
  explicit Runtime(Metrics& metrics);
  Runtime(Metrics& metrics, const Clock& clock);
  ~Runtime();  // destroys component instances; plugins stay loaded
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Loads every plugin of the config, validates the set (unknown components, duplicate routes,
  // two owners of one command) and creates the instances. Throws PluginError.
  void start(const config::Config& config);

  // The serving plugins and components (a reload may replace them; these are copies).
  std::vector<std::shared_ptr<LoadedPlugin>> plugins() const;
  std::vector<Component*> components() const;
  const std::vector<RouteBinding>& routes() const { return routes_; }  // current(route.component)
  size_t componentCount() const { return components().size(); }

  // Serves a route. With a store, the route runs in its own transaction, committed (outgoing
  // messages included) when the hook returns OK.
  HttpResponse handle(const RouteBinding& route, const HttpRequest& request);

  // Runs one receptor or perspective on a message inside `tx` (may be null without a store);
  // what it sends and registers for after the commit goes into `part`. After a receptor that
  // succeeded, the events it emitted are projected inline (projectInline): their failure is its.
  Delivery deliver(Component& component, const Message& message, store::Transaction* tx,
                   Part& part);

  // Inline perspectives (PLEXUS_PROJECTION_INLINE, plugin/inline_projection.cpp): runs the
  // events of `part` not offered yet, in emission order, through this host's inline perspectives
  // of their types, inside `tx`, each earning its inbox row in `part`. OK when there was nothing
  // to do; else the first failure, with a reason naming the perspective and the event (nothing
  // is undone here: the caller discards the part, as for a failing handler).
  Delivery projectInline(Part& part, store::Transaction* tx);

  // Host API `post`: one message in a transaction of its own.
  plexus_status post(plexus_host& host, int32_t kind, const std::string& type,
                     const std::string& stream, const std::string& payload);

  // The durable runtime: a store for handler SQL and outgoing messages; `committed` is called
  // after every commit that wrote outgoing messages (wakes the relay).
  void attachStore(store::Store* store, std::function<void()> committed);
  store::Store* store() const { return store_; }
  const std::string& service() const { return service_; }
  const std::string& instance() const { return instance_; }

  // Live upgrade (plugin/reload.cpp). The components `plugin` has under `config` (its
  // `components` filter), without instances. Throws PluginError.
  std::vector<std::unique_ptr<Component>> componentsOf(const std::shared_ptr<LoadedPlugin>& plugin,
                                                       const config::Plugin& config);
  // Calls the component's create hook. Throws PluginError when it returns null.
  void create(Component& component);
  // Makes `fresh` (created) the serving versions of the same-named components of the plugin
  // named like `plugin`, which becomes the serving plugin. Returns the replaced versions (calls
  // already running finish on them).
  std::vector<Component*> replace(const std::shared_ptr<LoadedPlugin>& plugin,
                                  std::vector<std::unique_ptr<Component>> fresh);

  // True once a hook returned FATAL: the host turns not-ready.
  bool failed() const { return failed_.load(); }
  std::string failure() const;

  // Used by the host API implementation.
  Metrics& metrics() { return metrics_; }
  const Clock& clock() const { return clock_; }
  Component* receptorFor(const std::string& type) const;
  void markFatal(const std::string& who, const std::string& reason);

 private:
  // deliver() without the inline projection; `projectingInline` refuses emit, send, schedule
  // and invoke to the hook.
  Delivery run(Component& component, const Message& message, store::Transaction* tx, Part& part,
               bool projectingInline);
  using InlineIndex = std::map<std::string, std::vector<Component*>>;  // event type -> perspectives
  void indexInline();  // after the serving set changed (start, replace)

  Metrics& metrics_;
  const Clock& clock_;
  std::string service_;
  std::string instance_;
  store::Store* store_ = nullptr;
  std::function<void()> committed_;
  mutable std::mutex setMu_;  // plugins_ and components_ (a reload changes them while serving)
  std::vector<std::shared_ptr<LoadedPlugin>> plugins_;
  std::vector<std::unique_ptr<Component>> components_;  // every version ever created
  std::vector<RouteBinding> routes_;
  CommandOwners commandOwners_;
  std::shared_ptr<const InlineIndex> inline_;  // std::atomic_load/store: swapped by a reload
  HandlerMetrics handlerMetrics_;
  std::atomic<bool> failed_{false};
  mutable std::mutex failureMu_;
  std::string failure_;
};

// The host API table handed to every component (static, process lifetime).
const plexus_host_api* hostApi();

// Tracing (docs/observability.md): "handle {type}" spans one handler run, a child of this
// thread's current span, else of the message's traceparent; the outcome goes in plexus.outcome.
trace::Span startHandlerSpan(const Component& component, const Message& message);
void setOutcome(trace::Span& span, plexus_status status, const std::string& reason);
// "db.transaction": one host-owned transaction, a child of this thread's current span.
trace::Span startTransactionSpan(const store::Store& store);

}  // namespace plexus::plugin
