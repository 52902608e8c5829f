// The JSON Schema subset of plexus/testing/json_schema.hpp: each keyword can fail, and a keyword
// it does not know is refused instead of being ignored.
#include <plexus/testing/json_schema.hpp>

#include <gtest/gtest.h>

namespace {

using nlohmann::json;
using plexus::testing::JsonSchema;

const json kOrder = json::parse(R"({
  "type": "object",
  "required": ["orderId", "items", "totalAmount", "createdAt"],
  "additionalProperties": false,
  "properties": {
    "orderId": {"type": "string", "format": "uuid"},
    "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/line"}},
    "totalAmount": {"type": "number", "minimum": 0},
    "status": {"enum": ["Pending", "Cancelled"]},
    "createdAt": {"type": "string", "format": "date-time"},
    "note": {"type": ["string", "null"], "maxLength": 5},
    "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
    "v": {"const": 1},
    "choice": {"oneOf": [{"type": "integer"}, {"type": "string"}]}
  },
  "$defs": {"line": {"type": "object", "required": ["quantity"],
                     "properties": {"quantity": {"type": "integer", "exclusiveMinimum": 0}}}}
})");

std::vector<std::string> errors(const json& value) { return JsonSchema(kOrder).validate(value); }

json valid() {
  return json{{"orderId", "019b76da-a800-7abc-8123-456789abcdef"},
              {"items", json::array({json{{"quantity", 2}}})},
              {"totalAmount", 89.97},
              {"createdAt", "2026-01-01T00:00:00.000Z"}};
}

TEST(JsonSchema, AcceptsAValidValue) {
  EXPECT_TRUE(errors(valid()).empty());
  json v = valid();
  v["note"] = nullptr;
  v["status"] = "Pending";
  v["code"] = "USD";
  v["v"] = 1;
  v["choice"] = 3;
  EXPECT_TRUE(errors(v).empty());
}

TEST(JsonSchema, NamesEachViolationWithItsPointer) {
  json v = valid();
  v.erase("createdAt");
  v["orderId"] = "order-1";
  v["items"][0]["quantity"] = 0;
  v["totalAmount"] = -1;
  v["status"] = "Lost";
  v["note"] = "too long";
  v["code"] = "usd";
  v["v"] = 2;
  v["choice"] = true;
  v["extra"] = 1;
  const auto e = errors(v);
  const std::vector<std::string> expected{
      "/: lacks the required property \"createdAt\"",
      "/choice: must match exactly one of oneOf, matches 0",
      "/code: must match \"^[A-Z]{3}$\"",
      "/extra: is not a property this message has",
      "/items/0/quantity: must be > 0",
      "/note: must have at most 5 characters",
      "/orderId: must be a UUID",
      "/status: must be one of [\"Pending\",\"Cancelled\"], is \"Lost\"",
      "/totalAmount: must be >= 0",
      "/v: must be 1"};
  EXPECT_EQ(e, expected);
  v = valid();
  v["items"] = json::array();
  v["createdAt"] = "yesterday";
  v["totalAmount"] = "89.97";
  EXPECT_EQ(errors(v),
            (std::vector<std::string>{"/createdAt: must be an RFC 3339 date-time",
                                      "/items: must have at least 1 items",
                                      "/totalAmount: must be of type number, is string"}));
}

TEST(JsonSchema, RefusesKeywordsItDoesNotCheck) {
  EXPECT_THROW(JsonSchema(json::parse(R"({"type": "object", "dependentRequired": {}})"), "x.json"),
               std::invalid_argument);
  EXPECT_THROW(JsonSchema(json::parse(R"({"type": "string", "format": "email"})")),
               std::invalid_argument);
}

}  // namespace
