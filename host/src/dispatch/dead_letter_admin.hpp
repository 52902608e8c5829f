#pragma once
// The dead letters as the admin API shows and acts on them: list, retry (a fresh delivery, the
// inbox still dedupes), discard.

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace plexus {
class Clock;
}
namespace plexus::store {
class Store;
}

namespace plexus::store::dead_letters {
struct DeadLetter;
}

namespace plexus::dispatch {

// A dead letter as the admin API shows it (docs/api.md), its message with metadata and payload.
nlohmann::json deadLetterJson(const store::dead_letters::DeadLetter& d);

class DeadLetterAdmin {
 public:
  DeadLetterAdmin(store::Store& store, const Clock& clock, std::function<void()> wakeScheduler)
      : store_(store), clock_(clock), wakeScheduler_(std::move(wakeScheduler)) {}

  // Newest first, as JSON objects (docs/api.md).
  nlohmann::json list(int limit);
  // False when no such dead letter (or one no handler can take).
  bool retry(const std::string& id);
  bool discard(const std::string& id);

 private:
  store::Store& store_;
  const Clock& clock_;
  std::function<void()> wakeScheduler_;
};

}  // namespace plexus::dispatch
