// The SDK's value helpers (money, RFC 3339, UUIDv7) and the host functions that use them.
#include "base/uuid.hpp"

#include <plexus/sdk/money.hpp>
#include <plexus/sdk/rfc3339.hpp>
#include <plexus/sdk/uuid.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <set>

namespace {

using nlohmann::json;
namespace money = plexus::money;
namespace rfc3339 = plexus::rfc3339;

TEST(Money, ParsesDecimalTextExactly) {
  EXPECT_EQ(money::parse("19.99"), 1999);
  EXPECT_EQ(money::parse("0.29"), 29);  // 0.29 * 100 is 28.999999999999996 in binary
  EXPECT_EQ(money::parse("12.300"), 1230);
  EXPECT_EQ(money::parse("7"), 700);
  EXPECT_EQ(money::parse("1e3"), 100000);
  EXPECT_EQ(money::parse("1.5E+1"), 1500);
  EXPECT_EQ(money::parse("250e-2"), 250);
  EXPECT_EQ(money::parse("-0.05"), -5);
  EXPECT_EQ(money::parse("0"), 0);
  EXPECT_EQ(money::parse("0.000"), 0);
  EXPECT_EQ(money::parse("12.345", "price", 3), 12345);
  EXPECT_EQ(money::parse("5", "yen", 0), 5);
}

TEST(Money, RefusesWhatIsNotAnExactAmountAndSaysWhy) {
  auto why = [](std::string_view text) {
    try {
      money::parse(text, "totalAmount");
    } catch (const money::MoneyError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(why("0.291"), "totalAmount must have at most 2 decimals");
  EXPECT_EQ(why("1e-3"), "totalAmount must have at most 2 decimals");
  EXPECT_EQ(why("12,50"), "totalAmount must be a decimal number");
  EXPECT_EQ(why(".5"), "totalAmount must be a decimal number");
  EXPECT_EQ(why("5."), "totalAmount must be a decimal number");
  EXPECT_EQ(why(""), "totalAmount must be a decimal number");
  EXPECT_EQ(why("1e"), "totalAmount must be a decimal number");
  EXPECT_EQ(why("NaN"), "totalAmount must be a decimal number");
  EXPECT_EQ(why("100000000000000000"), "totalAmount is too large");  // 1e17 units = 1e19 cents
  EXPECT_EQ(why("1e400"), "totalAmount is too large");
  EXPECT_EQ(why("9999999999999999.99"), "accepted");  // 18 digits of cents fit
}

TEST(Money, ReadsJsonNumbersExactly) {
  EXPECT_EQ(money::fromJson(json::parse("19.99")), 1999);
  EXPECT_EQ(money::fromJson(json::parse("0.1")), 10);
  EXPECT_EQ(money::fromJson(json(25)), 2500);
  EXPECT_EQ(money::fromJson(json(-3)), -300);
  EXPECT_EQ(money::nonNegativeFromJson(json(12.5), "price", 1250), 1250);
  EXPECT_THROW(money::nonNegativeFromJson(json(12.51), "price", 1250), money::MoneyError);
  EXPECT_THROW(money::nonNegativeFromJson(json(-0.01)), money::MoneyError);
  EXPECT_EQ(money::nonNegativeFromJson(json(-0.0)), 0);
}

TEST(Money, JsonTextThatIsNotAnAmountIsRefused) {
  EXPECT_THROW(money::fromJson(json(0.1 + 0.2)), money::MoneyError);
  EXPECT_THROW(money::fromJson(json(true)), money::MoneyError);
  EXPECT_THROW(money::fromJson(json("1.00")), money::MoneyError);  // text: money::parse()
  EXPECT_THROW(money::fromJson(json(nullptr)), money::MoneyError);
  EXPECT_THROW(money::fromJson(json::parse("18446744073709551615")), money::MoneyError);
}

TEST(Money, FormatsAndPrintsBack) {
  EXPECT_EQ(money::format(1999), "19.99");
  EXPECT_EQ(money::format(5), "0.05");
  EXPECT_EQ(money::format(-5), "-0.05");
  EXPECT_EQ(money::format(0), "0.00");
  EXPECT_EQ(money::format(-123456), "-1234.56");
  EXPECT_EQ(money::format(7, 0), "7");
  EXPECT_EQ(money::format(std::numeric_limits<int64_t>::min()), "-92233720368547758.08");
  EXPECT_EQ(money::toJson(1999).dump(), "19.99");
  EXPECT_EQ(money::toJson(29).dump(), "0.29");
  EXPECT_EQ(money::toJson(-5).dump(), "-0.05");
  EXPECT_EQ(money::toJson(1200).dump(), "12");
  for (int64_t c : {int64_t{1}, int64_t{10}, int64_t{99}, int64_t{123456789}, int64_t{-77}}) {
    EXPECT_EQ(money::fromJson(money::toJson(c)), c) << c;
    EXPECT_EQ(money::parse(money::format(c)), c) << c;
  }
}

TEST(Rfc3339, FormatsWithMillisecondsAlsoBeforeTheEpoch) {
  EXPECT_EQ(rfc3339::format(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339::format(1767225600000), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339::format(1767225600123), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(rfc3339::format(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(rfc3339::format(-1000), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(rfc3339::format(-86400001), "1969-12-30T23:59:59.999Z");
  EXPECT_EQ(rfc3339::format(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(rfc3339::format(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(rfc3339::format(-62167219200000), "0000-01-01T00:00:00.000Z");
}

TEST(Rfc3339, ParsesOffsetsFractionsAndLeapSeconds) {
  EXPECT_EQ(rfc3339::parse("2026-01-01T00:00:00Z"), 1767225600000);
  EXPECT_EQ(rfc3339::parse("2026-01-01T01:00:00+01:00"), 1767225600000);
  EXPECT_EQ(rfc3339::parse("2025-12-31t19:00:00.5-05:00"), 1767225600500);
  EXPECT_EQ(rfc3339::parse("2026-01-01t00:00:00.123456z"), 1767225600123);
  EXPECT_EQ(rfc3339::parse("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_EQ(rfc3339::parse("2016-12-31T23:59:60Z"), 1483228799999);
  for (const char* bad :
       {"", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0100",
        "2026-01-01T00:00:00Zjunk", "26-01-01T00:00:00Z", "2026-01-01 00:00:00Z"}) {
    EXPECT_FALSE(rfc3339::parse(bad).has_value()) << bad;
  }
}

TEST(Rfc3339, RoundTripsEveryMillisecondPattern) {
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{999}, int64_t{-999},
                     int64_t{1767225600999}, int64_t{-2208988800001}, int64_t{86399999}}) {
    EXPECT_EQ(rfc3339::parse(rfc3339::format(ms)), ms) << ms;
  }
}

TEST(Rfc3339, DatesAndDayNumbers) {
  EXPECT_EQ(rfc3339::parseDate("1970-01-01"), 0);
  EXPECT_EQ(rfc3339::parseDate("1969-12-31"), -1);
  EXPECT_EQ(rfc3339::parseDate("2024-02-29"), 19782);
  EXPECT_FALSE(rfc3339::parseDate("2023-02-29"));
  EXPECT_FALSE(rfc3339::parseDate("2024-2-29"));
  EXPECT_FALSE(rfc3339::parseDate("2024-02-29T00:00:00Z"));
  EXPECT_EQ(rfc3339::formatDate(19782), "2024-02-29");
  EXPECT_EQ(rfc3339::formatDate(-1), "1969-12-31");
  EXPECT_EQ(rfc3339::daysSinceEpoch(-1), -1);
  EXPECT_EQ(rfc3339::daysSinceEpoch(0), 0);
  EXPECT_EQ(rfc3339::daysSinceEpoch(86399999), 0);
  EXPECT_EQ(rfc3339::daysSinceEpoch(-86400000), -1);
  EXPECT_EQ(rfc3339::daysSinceEpoch(-86400001), -2);
  static_assert(rfc3339::daysFromCivil(2000, 3, 1) == 11017, "usable in constant expressions");
}

TEST(Uuid, MakesTimeOrderedVersion7Ids) {
  const std::string id = plexus::uuid::v7(1767225600000, 0xabc, 0x123456789abcdefULL);
  EXPECT_EQ(id, "019b76da-a800-7abc-8123-456789abcdef");
  EXPECT_TRUE(plexus::uuid::isV7(id));
  EXPECT_EQ(plexus::uuid::timestampMs(id), 1767225600000);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string fresh = plexus::uuid::v7();
    EXPECT_TRUE(plexus::uuid::isV7(fresh)) << fresh;
    seen.insert(fresh);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Uuid, ValidatesText) {
  EXPECT_TRUE(plexus::uuid::valid("019B77F0-5C00-7ABC-8123-456789ABCDEF"));
  EXPECT_TRUE(plexus::uuid::valid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(plexus::uuid::isV7("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(plexus::uuid::valid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(plexus::uuid::valid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_EQ(plexus::uuid::timestampMs("not a uuid"), -1);
}

// The host's ids are the SDK's (the host formats times with plexus::rfc3339 itself).
TEST(HostValues, IdsComeFromTheSdk) { EXPECT_TRUE(plexus::uuid::isV7(plexus::newUuidV7())); }

}  // namespace
