#pragma once
// One handler transaction (DESIGN.md §3), written once for routes, local invokes, posts and
// dispatch: begin; the plugins' SQL; each successful part's outgoing messages (event store +
// outbox) and inbox row; commit; then every kept part's after-commit callbacks with the outcome,
// and the relay woken when messages were written. Several parts (a consumed batch) share one
// transaction, each under its own savepoint, so a failing part undoes only its own effects.

#include "plugin/runtime.hpp"
#include "store/outbox.hpp"
#include "store/store.hpp"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace plexus {
class Clock;
}

namespace plexus::plugin {

// What one handler run wrote besides its SQL: messages to append and work for after the commit.
struct Part {
  std::vector<store::Outgoing> outgoing;
  std::vector<AfterCommit> afterCommit;
  // Inline projections (Runtime::projectInline): how many of `outgoing` were offered to them, and
  // the inbox rows (event id, perspective) they earned, written with the part so that the
  // published copy of the event is skipped when it comes back.
  size_t projected = 0;
  std::vector<std::pair<std::string, std::string>> projectedInbox;

  // Undoes what was added after `mark` (a failed local invoke): callbacks hear "not committed".
  struct Mark {
    size_t outgoing = 0;
    size_t afterCommit = 0;
    size_t projected = 0;
    size_t projectedInbox = 0;
  };
  Mark mark() const {
    return {outgoing.size(), afterCommit.size(), projected, projectedInbox.size()};
  }
  void undoSince(Mark mark);
};

class UnitOfWork {
 public:
  // Begins a transaction (throws store::SqlError when the store is unavailable). `wrote` runs
  // after a commit that wrote outgoing messages (wakes the relay); may be empty.
  UnitOfWork(store::Store& store, const Clock& clock, std::function<void()> wrote);
  // Works in a transaction someone else owns and commits (the relay's): commit() is not called;
  // the owner calls finish() after its commit.
  UnitOfWork(store::Transaction& borrowed, const Clock& clock, std::function<void()> wrote);
  ~UnitOfWork();  // rolls back an owned, uncommitted transaction; kept callbacks hear "no"
  UnitOfWork(const UnitOfWork&) = delete;
  UnitOfWork& operator=(const UnitOfWork&) = delete;

  store::Transaction& tx() { return *tx_; }
  const Clock& clock() const { return clock_; }

  // A part that may fail on its own: a savepoint until keep() or discard().
  void beginPart();
  // The part succeeded: its messages are appended (and the handled message's inbox row written
  // when given, with those of its inline projections); its callbacks wait for the commit.
  // `batched`: the writes wait for flush(), which sends every batched part's events, outbox rows
  // and inbox rows as three multi-row statements with the commit's round trip (a clash then
  // surfaces at the commit).
  void keep(Part&& part, const std::string* messageId = nullptr,
            const std::string* handler = nullptr, bool batched = false);
  // Writes what keep(..., batched) collected. commit() calls it; the owner of a borrowed
  // transaction calls it before committing.
  void flush();
  // The part failed: its SQL is undone (to the savepoint) and its callbacks hear "not committed".
  void discard(Part&& part);

  // A point the whole batch can go back to (a savepoint), with the parts kept since.
  struct Checkpoint {
    size_t kept = 0;
    bool wrote = false;
    size_t batchedMessages = 0;
    size_t batchedInbox = 0;
  };
  Checkpoint checkpoint();
  void releaseCheckpoint();
  // Undoes everything since `c`: its SQL, and the kept parts' callbacks hear "not committed".
  void rollbackTo(const Checkpoint& c);

  // Commits; kept callbacks run with the outcome; throws store::SqlError when the commit failed
  // (after the callbacks heard "not committed").
  void commit();
  // For a borrowed transaction, after its owner committed (or not).
  void finish(bool committed);
  bool wroteMessages() const { return wrote_; }

 private:
  std::unique_ptr<store::Transaction> owned_;
  store::Transaction* tx_;
  const Clock& clock_;
  std::function<void()> onWrote_;
  std::vector<AfterCommit> kept_;
  std::vector<store::Outgoing> batchedMessages_;                   // keep(..., batched)
  std::vector<std::pair<std::string, std::string>> batchedInbox_;  // (message id, handler)
  bool wrote_ = false;
  bool inPart_ = false;
  bool done_ = false;
};

}  // namespace plexus::plugin
