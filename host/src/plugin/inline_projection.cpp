// Inline perspectives (plugin_abi.h, PLEXUS_PROJECTION_INLINE; docs/plugin-guide.md, "Inline
// perspectives"): the events a host transaction emitted run through this host's inline
// perspectives inside that transaction, before its commit, in emission order. Each projection
// earns the perspective's inbox row in the same transaction, so the published copy of the event
// that comes back (broker or local relay) is skipped by the inbox, and a rebuild's switch sees it
// as handled by the live perspective.
#include "plugin/runtime.hpp"
#include "plugin/unit_of_work.hpp"

#include <chrono>
#include <memory>

namespace plexus::plugin {
namespace {

// Counted in the perspective's handler metrics once the emitting transaction committed.
struct Projected {
  Metrics* metrics;
  HandlerMetrics ids;
  std::string type, handler, version;
  double seconds;
};

void countProjected(void* user, int32_t committed) {
  std::unique_ptr<Projected> p(static_cast<Projected*>(user));
  if (committed == 0) return;
  p->metrics->update(p->ids.handled, {p->type, p->handler, p->version}, 1);
  p->metrics->update(p->ids.duration, {p->handler}, p->seconds);
}

}  // namespace

void Runtime::indexInline() {
  auto index = std::make_shared<InlineIndex>();
  for (const auto& c : components_) {  // before serving, or under setMu_ (replace)
    if (c->successor.load() != nullptr || c->kind != Kind::Perspective || !c->projectsInline)
      continue;
    for (const auto& type : c->types) (*index)[type].push_back(c.get());
  }
  std::atomic_store(&inline_, std::shared_ptr<const InlineIndex>(std::move(index)));
}

Delivery Runtime::projectInline(Part& part, store::Transaction* tx) {
  Delivery out;
  out.status = PLEXUS_OK;
  const std::shared_ptr<const InlineIndex> index = std::atomic_load(&inline_);
  if (tx == nullptr || !index || index->empty()) {
    part.projected = part.outgoing.size();
    return out;
  }
  // An inline perspective cannot emit, so `outgoing` does not grow (or move) meanwhile.
  for (; part.projected < part.outgoing.size(); ++part.projected) {
    const store::Outgoing& o = part.outgoing[part.projected];
    if (o.message.kind != "event" || o.deliverAtMs != 0) continue;
    const auto it = index->find(o.message.type);
    if (it == index->end()) continue;
    for (Component* perspective : it->second) {
      if (!current(*perspective).projectsInline) continue;  // a reload made it asynchronous
      const Message& e = o.message;
      trace::Span span = startHandlerSpan(*perspective, e);  // a child of the emitter's span
      span.setAttribute("plexus.projection", std::string("inline"));
      trace::Scope scope(span);
      const auto started = std::chrono::steady_clock::now();
      Delivery d;
      try {
        d = run(*perspective, e, tx, part, true);
      } catch (const store::SqlError& err) {  // the rebuild lock (dialect().shareHandlerLock)
        d.status = err.transient() ? PLEXUS_RETRY : PLEXUS_REJECT;
        d.reason = err.what();
        d.version = current(*perspective).plugin->version;
      }
      setOutcome(span, d.status, d.reason);
      if (d.status != PLEXUS_OK) {
        metrics_.update(handlerMetrics_.failed, {e.type, perspective->id, d.version}, 1);
        out.status = d.status;
        out.reason = "inline perspective " + perspective->id + " failed on " + e.type + " " + e.id +
                     ": " + d.reason;
        return out;
      }
      part.projectedInbox.emplace_back(e.id, perspective->id);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      part.afterCommit.push_back(
          {&countProjected,
           new Projected{&metrics_, handlerMetrics_, e.type, perspective->id, d.version, seconds}});
    }
  }
  return out;
}

}  // namespace plexus::plugin
