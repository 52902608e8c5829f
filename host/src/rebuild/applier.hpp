#pragma once
// Runs events through the rebuilt perspective inside a shadow transaction, each exactly once:
// the ledger (rebuild/shadow.hpp) drops what was applied before; a batch runs under one
// savepoint (one per event when an event fails), and its events are recorded in the ledger with
// their effects. What the perspective would send or
// do after a commit is dropped: a rebuild only writes the read model.

#include "message/message.hpp"
#include "plugin/runtime.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::rebuild {

// The rebuild cannot go on (the perspective failed fatally, or an event cannot be applied).
class RebuildError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Counts {
  int64_t applied = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;
  Counts& operator+=(const Counts& o) {
    applied += o.applied;
    duplicates += o.duplicates;
    rejected += o.rejected;
    return *this;
  }
};

class Applier {
 public:
  // `component`: an instance of the perspective of its own (rebuild/rebuild.cpp), run by
  // `runtime` (one that serves nothing else, so a FATAL there does not fail the host).
  Applier(plugin::Runtime& runtime, plugin::Component& component);

  // A RETRY from the perspective or a transient store error throws store::SqlError (transient):
  // the caller rolls the batch back and runs it again. FATAL throws RebuildError.
  Counts apply(store::Transaction& tx, const std::vector<Message>& events);

 private:
  // False at the first event that did not succeed (`careful`: each under a savepoint instead,
  // a rejected one undone alone).
  bool runAll(store::Transaction& tx, const std::vector<const Message*>& events, bool careful,
              Counts& counts);
  void record(store::Transaction& tx, const std::vector<const Message*>& events);
  plugin::Runtime& runtime_;
  plugin::Component& component_;
};

}  // namespace plexus::rebuild
