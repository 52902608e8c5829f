#include "dispatch/dispatcher.hpp"

#include "transport_api/transport.hpp"

namespace plexus::dispatch {

Dispatcher::Dispatcher(plugin::Runtime& runtime, store::Store& store, Metrics& metrics, Options o,
                       transport::Transport* transport, const Clock& clock)
    : transport_(transport),
      handlers_(runtime),
      failures_(RetryPolicy({o.maxAttempts, o.retryInitialMs, o.retryMaxMs}), clock, metrics,
                transport != nullptr),
      executor_(runtime, handlers_, failures_, metrics, clock,
                ExecutorOptions{o.instance, o.leaseMs,
                                [this] {
                                  scheduler_.wake();
                                  relay_.wake();
                                }}),
      intake_(
          executor_, store, clock, [this] { scheduler_.wake(); }, [this] { relay_.wake(); }),
      scheduler_(executor_, store, clock,
                 SchedulerOptions{o.workers, o.runBatch, o.batch * 5, o.pollIntervalMs, o.instance},
                 [this] { relay_.wake(); }),
      monitor_(store, clock, metrics),
      retention_(store, clock, o.retentionMs, o.keepPublishedMs),
      relay_(store, clock, RelayOptions{o.batch, o.pollIntervalMs, o.keepPublishedMs > 0},
             transport, intake_, monitor_, retention_),
      deadLetters_(store, clock, [this] { scheduler_.wake(); }) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  started_ = true;
  relay_.start();
  scheduler_.start();
  if (transport_ != nullptr) transport_->start(intake_);
}

void Dispatcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (transport_ != nullptr && started_) transport_->stopConsuming();
  scheduler_.stop();
  relay_.stop();
  if (transport_ != nullptr) transport_->stop();
}

}  // namespace plexus::dispatch
