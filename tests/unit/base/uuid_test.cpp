#include "base/uuid.hpp"
#include "base/clock.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace {

TEST(Uuid, IsVersion7InCanonicalFormAndOrderedByTime) {
  const std::regex canonical(
      "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = plexus::newUuidV7();
    EXPECT_TRUE(std::regex_match(id, canonical)) << id;
    EXPECT_TRUE(seen.insert(id).second) << id;
    // The first 48 bits are the time in ms: ids of later milliseconds sort later.
    if (!previous.empty()) EXPECT_LE(previous.substr(0, 13), id.substr(0, 13));
    previous = id;
  }
}

TEST(Clock, ManualClockMovesOnlyWhenTold) {
  plexus::ManualClock clock(1000);
  EXPECT_EQ(clock.nowMs(), 1000);
  clock.advance(std::chrono::milliseconds(250));
  EXPECT_EQ(clock.nowMs(), 1250);
  clock.set(5);
  EXPECT_EQ(clock.nowMs(), 5);
  EXPECT_GT(plexus::systemClock().nowMs(), 1700000000000);  // a real wall clock
}

}  // namespace
