#pragma once
// Test-only fault injection: the fault suite (tests/faults) makes a host die abruptly at a named
// point of the delivery path, to prove that nothing is lost or applied twice whatever fails.
//
//   PLEXUS_FAULT=<point>:<n>[,<point>:<n>...]
//
// The process calls _exit(137) (what kill -9 looks like to its parent, and just as abrupt: no
// destructor, no flush, no ack) the n-th time it reaches <point>. Points:
//   before_commit             a handler ran; its transaction is about to commit
//   after_commit_before_ack   a consumed broker message is committed as deliveries, not acked
//   after_publish_before_mark the broker confirmed outbox rows; they are not marked published
//   mid_relay                 part of an outbox batch was published, the rest and the confirms
//                             are not
// Unset (production), reach() is one load of a flag that is false. A malformed value stops the
// host at start with a message naming the variable.

namespace plexus::fault {

enum class Point { BeforeCommit, AfterCommitBeforeAck, AfterPublishBeforeMark, MidRelay };

namespace detail {
extern bool armed;
void reachSlow(Point point);
}  // namespace detail

inline void reach(Point point) {
  if (detail::armed) detail::reachSlow(point);
}

}  // namespace plexus::fault
