#pragma once
// What becomes of a failed attempt: the next attempt, stored with its backoff, or a dead letter
// (the record with its reason, and a copy for the broker's dead-letter queue when there is one).

#include "dispatch/job.hpp"
#include "dispatch/retry_policy.hpp"
#include "store/store.hpp"

#include <string>

namespace plexus {
class Clock;
class Metrics;
}  // namespace plexus

namespace plexus::dispatch {

class Failures {
 public:
  // `brokerCopy`: dead letters also go to the broker's dead-letter queue (through the outbox).
  Failures(RetryPolicy policy, const Clock& clock, Metrics& metrics, bool brokerCopy);

  // Writes the outcome in `tx`. Returns -1 for a dead letter, else the delay of the next attempt.
  int64_t record(store::Transaction& tx, const Job& job, plexus_status status,
                 const std::string& reason);
  // The same in a transaction of its own (after the batch it belonged to failed to commit).
  void recordAlone(store::Store& store, const Job& job, plexus_status status,
                   const std::string& reason);
  // After the commit: the metric and the log line of a recorded outcome.
  void report(const Job& job, const std::string& reason, int64_t delay);
  // Straight to the dead letters (no handler loaded, unusable message); `handler` may be "-".
  void deadLetter(store::Transaction& tx, const Job& job, const std::string& reason);

  const RetryPolicy& policy() const { return policy_; }

 private:
  RetryPolicy policy_;
  const Clock& clock_;
  Metrics& metrics_;
  bool brokerCopy_;
  int64_t retriedMetric_ = 0, deadMetric_ = 0;
};

}  // namespace plexus::dispatch
