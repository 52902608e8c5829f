#pragma once
// The in-process transport: the same durable semantics as the broker transport, inside one host.
// A relay moves committed outbox rows into per-handler deliveries; workers run each delivery in
// its own transaction (inbox dedupe + handler SQL + outgoing messages), then delete it. Failures
// are retried with exponential backoff and dead-lettered after max attempts. Deliveries of one
// (stream, handler) run one at a time in outbox order.

#include "plugin/runtime.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace plexus {
class Metrics;
}
namespace plexus::store {
struct Envelope;
}

namespace plexus::dispatch {

// Where committed outbox rows go when a broker is the transport (else: local deliveries).
struct Outbound {
  std::string id;
  std::string kind;  // "event" | "command" | "dead-letter"
  std::string type;
  std::string stream;
  std::string envelope;
  std::string traceparent;  // the publish span's context, also sent as an AMQP header
};
class Publisher {
 public:
  virtual ~Publisher() = default;
  // Publishes all, with confirms; throws on any failure (the rows stay in the outbox).
  virtual void publish(const std::vector<Outbound>& messages) = 0;
};

struct Options {
  int workers = 2;
  int maxAttempts = 5;
  int retryInitialMs = 200;
  int retryMaxMs = 60000;
  int pollIntervalMs = 1000;
  int batch = 100;
  int runBatch = 16;  // deliveries one worker runs in one transaction (group commit)
  int64_t retentionMs = 7ll * 24 * 3600 * 1000;  // published outbox / processed inbox rows kept
  int leaseMs = 30000;   // a claimed delivery is taken over when its instance went silent this long
  std::string instance;  // this host's instance id (delivery claims)
};

class Bus {
 public:
  Bus(plugin::Runtime& runtime, store::Store& store, Metrics& metrics, Options options);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  void start();
  // Stops taking new deliveries and waits for the running ones (bounded by the caller's drain).
  void stop();
  // Called after a commit that wrote outbox rows.
  void wake();

  // Broker mode: committed outbox rows are published instead of delivered locally. Set before
  // start(). The publisher is used from the relay thread only.
  void setPublisher(Publisher* publisher) { publisher_ = publisher; }
  // Broker mode: a consumed message becomes deliveries for the local handlers, in one
  // transaction; true once committed (then ack). False with `error` for an unusable message.
  // `traceparent` is the AMQP header (the publish span), else the envelope's is the parent.
  bool accept(const std::string& envelope, std::string& error, const std::string& traceparent = "");
  // Group commit: several consumed messages (with their AMQP traceparent headers), ONE
  // transaction. ok[i] false (errors[i] set) for an unusable message; the usable ones are all
  // committed when it returns. Throws on a store failure (nothing committed).
  std::vector<bool> acceptBatch(const std::vector<std::string>& envelopes,
                                const std::vector<std::string>& traceparents,
                                std::vector<std::string>& errors);

  // Admin API.
  nlohmann::json deadLetters(int limit);
  bool retryDeadLetter(const std::string& id);
  bool discardDeadLetter(const std::string& id);

  // Age of the oldest due, unpublished outbox row (0 when none), for readiness and metrics.
  int64_t outboxOldestAgeMs();
  int64_t outboxPending();

  // Retention: deletes published outbox rows and processed inbox rows older than the retention
  // (the relay runs it every 10 minutes).
  void purge();

  // Message types the loaded handlers subscribe to (for tests and logs).
  std::vector<std::string> handlersFor(const std::string& kind, const std::string& type) const;

 private:
  struct Job {
    int64_t seq;
    std::string messageId;
    std::string handler;
    std::string stream;
    std::string envelope;
    int64_t attempt;
    int64_t firstFailedAt;  // 0 = never failed
    // True: the job has a row in plexus_deliveries (claimed, then deleted when handled). False:
    // it came straight from the broker and runs in the consume transaction; a failure stores it.
    bool stored = true;
  };
  struct Batch;     // deliveries run in one transaction and what became of them (bus.cpp)
  struct Consumed;  // a consumed message and the local handlers it goes to (bus.cpp)
  bool runOptimistic(const std::vector<Consumed>& items, size_t total, bool& stored);
  static std::vector<Value> deliveryRow(const Consumed& c, const std::string& handler, int64_t now);

  void relayLoop();
  bool relayOnce(int64_t& nextDueMs);
  void schedulerLoop();
  void workerLoop();
  void runAll(std::vector<Job>& jobs);
  // Runs one delivery under its own savepoint in `tx` (decoded: its envelope, when the caller has
  // it). True when it failed and will be retried: its stream waits for it.
  bool runOne(store::Transaction& tx, const Job& job, const store::Envelope* decoded,
              size_t batchSize, Batch& batch);
  // Commits and reports a batch. A failed commit is recorded for retries (stored jobs) or, with
  // `rethrow` (jobs straight from the broker), thrown after the spans and callbacks are ended.
  void commitBatch(std::unique_ptr<store::Transaction> tx, Batch& batch,
                   std::chrono::steady_clock::time_point started, size_t jobs, bool rethrow);
  void fail(const Job& job, plexus_status status, const std::string& reason);
  int64_t recordFailure(store::Transaction& tx, const Job& job, const std::string& type,
                        plexus_status status, const std::string& reason);
  void reportFailure(const Job& job, plexus_status status, const std::string& reason,
                     int64_t delay);
  void deadLetter(store::Transaction& tx, const Job& job, const std::string& type,
                  const std::string& reason);
  int64_t backoffMs(int64_t attempt);

  plugin::Runtime& runtime_;
  Publisher* publisher_ = nullptr;
  store::Store& store_;
  Metrics& metrics_;
  Options options_;
  std::map<std::string, std::vector<std::string>> eventHandlers_;  // type -> handler ids
  std::map<std::string, std::string> commandHandlers_;             // type -> handler id
  std::map<std::string, plugin::Component*> components_;           // handler id -> component

  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable relayCv_;
  std::condition_variable schedulerCv_;
  std::condition_variable workerCv_;
  bool relayWake_ = false;
  bool schedulerWake_ = false;
  std::deque<Job> queue_;
  std::set<std::pair<std::string, std::string>> busy_;  // (stream, handler) being handled
  int running_ = 0;
  std::thread relay_;
  std::thread scheduler_;
  std::vector<std::thread> workers_;
  int64_t handledMetric_ = 0, failedMetric_ = 0, retriedMetric_ = 0, deadMetric_ = 0,
          duplicateMetric_ = 0, durationMetric_ = 0, pendingMetric_ = 0, ageMetric_ = 0;
};

}  // namespace plexus::dispatch
