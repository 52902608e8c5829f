#pragma once
// RFC 3339 timestamps <-> Unix milliseconds, both ways, for any instant from year 0000 to 9999
// (times before 1970 included: -1 is 1969-12-31T23:59:59.999Z), and the calendar arithmetic under
// them (dates <-> day numbers). Header-only, no locale, no time zone database, no gmtime.
//
//   plexus::rfc3339::format(1767225600000)            -> "2026-01-01T00:00:00.000Z"
//   plexus::rfc3339::parse("2026-01-01T01:00:00+01:00") -> 1767225600000

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace plexus::rfc3339 {

// ---- the proleptic Gregorian calendar (H. Hinnant's algorithms), usable on their own ----

// Days since 1970-01-01 of a date.
constexpr int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// The date of a day number (days since 1970-01-01, negative before).
inline void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

constexpr int64_t kDayMs = 86400000;

// The UTC day number of an instant: floor division, so -1 ms is day -1, not day 0.
constexpr int64_t daysSinceEpoch(int64_t unixMs) {
  return unixMs / kDayMs - ((unixMs % kDayMs != 0) && (unixMs < 0) ? 1 : 0);
}

namespace detail {

inline bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

inline unsigned daysInMonth(int y, int m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// "YYYY-MM-DD" at the start of `s` -> y, m, d of a real calendar date.
inline bool date(std::string_view s, int& y, int& m, int& d) {
  return s.size() >= 10 && digits(s, 0, 4, y) && s[4] == '-' && digits(s, 5, 2, m) && s[7] == '-' &&
         digits(s, 8, 2, d) && m >= 1 && m <= 12 && d >= 1 &&
         d <= static_cast<int>(daysInMonth(y, m));
}

}  // namespace detail

// A full-date "YYYY-MM-DD" (years 0000-9999) -> its day number; nullopt for anything else.
inline std::optional<int64_t> parseDate(std::string_view s) {
  int y = 0, m = 0, d = 0;
  if (s.size() != 10 || !detail::date(s, y, m, d)) return std::nullopt;
  return daysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

namespace detail {
// `value` as exactly `width` decimal digits at `at` (written by hand: the host formats a time for
// every message it sends, and snprintf cost more than the rest of the message's metadata).
inline void put(char* at, uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) at[i] = static_cast<char>('0' + value % 10);
}
}  // namespace detail

// A day number -> "YYYY-MM-DD" (years outside 0000-9999 are clamped to them).
inline std::string formatDate(int64_t days) {
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civilFromDays(days, y, m, d);
  std::string out = "0000-00-00";
  detail::put(&out[0], static_cast<uint64_t>(y < 0 ? 0 : (y > 9999 ? 9999 : y)), 4);
  detail::put(&out[5], m, 2);
  detail::put(&out[8], d, 2);
  return out;
}

// UTC with exactly three fractional digits: "2026-01-01T00:00:00.000Z".
inline std::string format(int64_t unixMs) {
  const int64_t days = daysSinceEpoch(unixMs);
  const auto r = static_cast<unsigned>(unixMs - days * kDayMs);  // 0 .. kDayMs-1, also before 1970
  std::string out = formatDate(days) + "T00:00:00.000Z";
  detail::put(&out[11], r / 3600000, 2);
  detail::put(&out[14], r / 60000 % 60, 2);
  detail::put(&out[17], r / 1000 % 60, 2);
  detail::put(&out[20], r % 1000, 3);
  return out;
}

// RFC 3339 date-time -> Unix ms; nullopt for anything else. Accepts 'T' or 't' (not the space
// that section 5.6 mentions only as a note: JSON Schema's "date-time" refuses it too), any number
// of fractional digits (kept to the millisecond, cut toward the past), 'Z'/'z' or a numeric
// offset, and a leap second (:60, read as :59.999).
inline std::optional<int64_t> parse(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (s.size() < 20) return std::nullopt;
  if (!detail::date(s, y, mo, d) || (s[10] != 'T' && s[10] != 't') ||
      !detail::digits(s, 11, 2, h) || s[13] != ':' || !detail::digits(s, 14, 2, mi) ||
      s[16] != ':' || !detail::digits(s, 17, 2, se) || h > 23 || mi > 59 || se > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t n = 0;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 3) {
        ms += (s[pos] - '0') * scale;
        scale /= 10;
      }
      ++pos;
      ++n;
    }
    if (n == 0) return std::nullopt;
  }
  if (se == 60) {  // a leap second: the last millisecond of the minute
    se = 59;
    ms = 999;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offsetMin = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh = 0, om = 0;
    if (!detail::digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !detail::digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offsetMin = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offsetMin * 60;
  return secs * 1000 + ms;
}

}  // namespace plexus::rfc3339
