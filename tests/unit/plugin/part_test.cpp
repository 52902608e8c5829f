// plugin::Part: what one handler run wrote besides its SQL. A failed local invoke undoes what it
// added, including its inline projections (so they are offered again, and earn no inbox row).
#include "plugin/unit_of_work.hpp"

#include <gtest/gtest.h>

namespace {

using plexus::plugin::Part;

TEST(Part, UndoSinceForgetsTheInlineProjectionsOfWhatItUndoes) {
  Part part;
  part.outgoing.resize(1);
  part.projected = 1;
  part.projectedInbox.emplace_back("e1", "p/View");
  const Part::Mark mark = part.mark();

  part.outgoing.resize(3);
  part.projected = 3;
  part.projectedInbox.emplace_back("e2", "p/View");
  part.projectedInbox.emplace_back("e3", "p/View");
  int heard = -1;
  part.afterCommit.push_back(
      {[](void* user, int32_t committed) { *static_cast<int*>(user) = committed; }, &heard});
  part.undoSince(mark);

  EXPECT_EQ(part.outgoing.size(), 1u);
  EXPECT_EQ(part.projected, 1u);
  ASSERT_EQ(part.projectedInbox.size(), 1u);
  EXPECT_EQ(part.projectedInbox[0].first, "e1");
  EXPECT_TRUE(part.afterCommit.empty());
  EXPECT_EQ(heard, 0);  // told "not committed"
}

}  // namespace
