#include "http/connection_limits.hpp"

#include <gtest/gtest.h>

namespace {

using plexus::http::ConnectionLimits;
using Verdict = ConnectionLimits::Verdict;

TEST(ConnectionLimits, PerClientCapLeavesRoomForOthers) {
  ConnectionLimits l(10, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(l.admit("10.0.0.1"), Verdict::Admit);
  EXPECT_EQ(l.admit("10.0.0.1"), Verdict::PerClient);
  EXPECT_EQ(l.admit("10.0.0.2"), Verdict::Admit);
  EXPECT_EQ(l.open(), 4u);
  l.release("10.0.0.1");
  EXPECT_EQ(l.admit("10.0.0.1"), Verdict::Admit);
}

TEST(ConnectionLimits, TotalCapThenRecoversAtOnce) {
  ConnectionLimits l(4, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(l.admit("c" + std::to_string(i)), Verdict::Admit);
  EXPECT_EQ(l.admit("new"), Verdict::MaxConnections);
  EXPECT_EQ(l.clients(), 4u);
  for (int i = 0; i < 4; ++i) l.release("c" + std::to_string(i));
  EXPECT_EQ(l.open(), 0u);
  EXPECT_EQ(l.clients(), 0u);  // no entry outlives its last connection: memory is bounded
  EXPECT_EQ(l.admit("new"), Verdict::Admit);
}

TEST(ConnectionLimits, ReleaseOfAnUnknownClientChangesNothing) {
  ConnectionLimits l(2, 1);
  EXPECT_EQ(l.admit("a"), Verdict::Admit);
  l.release("b");
  EXPECT_EQ(l.open(), 1u);
  EXPECT_EQ(std::string(plexus::http::verdictLabel(Verdict::PerClient)), "per_client");
}

}  // namespace
