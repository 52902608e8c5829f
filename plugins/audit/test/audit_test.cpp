// The C audit plugin on the SQLite test host: its real SQL and migration, its routes end to end,
// and every event it emits checked against its schema.
#include <plexus/testing/sqlite_host.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace {

using Json = nlohmann::json;
using plexus::testing::SqliteTestHost;

class Audit : public ::testing::Test {
 protected:
  Audit() : host_(PLEXUS_PLUGIN_PATH) { host_.validateWith(std::string(PLEXUS_SCHEMA_DIRS)); }
  SqliteTestHost host_;
};

TEST_F(Audit, ANotePostedIsRecordedEmittedAndListed) {
  auto r = host_.request("POST", "/api/audit/order-1/notes", R"({"note": "called the customer"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["streamId"], "order-1");
  EXPECT_EQ(r.json()["note"]["note"], "called the customer");
  ASSERT_EQ(host_.events().size(), 1u);
  EXPECT_EQ(host_.events()[0].type, "AuditNoteRecorded");
  EXPECT_EQ(host_.events()[0].stream, "order-1");

  auto list = host_.request("GET", "/api/audit/order-1");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json()["entries"].size(), 1u);
  EXPECT_EQ(list.json()["entries"][0]["kind"], "note");
  EXPECT_EQ(list.json()["entries"][0]["body"]["note"], "called the customer");
  EXPECT_EQ(host_.request("GET", "/api/audit/order-2").json()["entries"].size(), 0u);
}

TEST_F(Audit, ANoteThatIsNotAJsonObjectIs400AndChangesNothing) {
  auto r = host_.request("POST", "/api/audit/order-1/notes", "[1, 2]");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "the note must be a JSON object");
  r = host_.request("POST", "/api/audit/order-1/notes", "{\"note\": ");  // emit refuses it
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(host_.emitted().empty());
  EXPECT_EQ(host_.query("SELECT count(*) FROM audit_entries")[0][0].asInt(), 0);
}

TEST_F(Audit, OtherPluginsEventsJoinTheTrailOnceEach) {
  const Json created{{"orderId", "order-7"}, {"customerId", "c-1"}};
  auto out = host_.deliver("OrderCreated", created, "order-7");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, plexus::Status::Ok) << out[0].detail;
  EXPECT_EQ(out[0].component, "audit/AuditTrail");
  host_.deliver("OrderCancelled", Json{{"orderId", "order-7"}, {"reason", "changed mind"}},
                "order-7");
  auto list = host_.request("GET", "/api/audit/order-7").json();
  ASSERT_EQ(list["entries"].size(), 2u);
  EXPECT_EQ(list["entries"][0]["type"], "OrderCreated");
  EXPECT_EQ(list["entries"][1]["body"]["reason"], "changed mind");
  EXPECT_EQ(host_.request("DELETE", "/api/audit/order-7").status, 405);
  EXPECT_EQ(host_.request("GET", "/api/nothing").status, 404);
}

// The catalogue is enforced: an event that breaks its schema (here a schema that wants a field the
// plugin does not send) fails the call, rolled back, with every reason.
TEST(AuditSchemas, AnEventThatBreaksItsSchemaFailsTheCall) {
  const std::string dir = ::testing::TempDir() + "/audit-schemas";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/AuditNoteRecorded.json")
      << R"({"type": "object", "required": ["entryId", "signedBy"]})";
  SqliteTestHost host(PLEXUS_PLUGIN_PATH);
  host.validateWith(std::vector<std::string>{dir});
  try {
    host.request("POST", "/api/audit/order-1/notes", R"({"note": "n"})");
    FAIL() << "the schema violation went unnoticed";
  } catch (const plexus::testing::SchemaViolation& e) {
    EXPECT_NE(std::string(e.what()).find("AuditNoteRecorded /: lacks the required property "
                                         "\"signedBy\""),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(host.query("SELECT count(*) FROM audit_entries")[0][0].asInt(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
