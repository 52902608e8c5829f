#include "message/message.hpp"

namespace plexus {

namespace {
// Civil date of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

void put(char* at, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) at[i] = static_cast<char>('0' + value % 10);
}
}  // namespace

// Formatted by hand: it runs for every message sent (snprintf cost more than the rest of the
// message's metadata together).
std::string rfc3339(int64_t unixMs) {
  // Floor division: -1 ms is 23:59:59.999 of the day before, not 00:00:00.-01.
  const int64_t days = unixMs >= 0 ? unixMs / 86400000 : -((-unixMs + 86399999) / 86400000);
  const int64_t msOfDay = unixMs - days * 86400000;
  int64_t year;
  unsigned month, day;
  civilFromDays(days, year, month, day);
  if (year < 0 || year > 9999) year = year < 0 ? 0 : 9999;  // outside RFC 3339's range
  std::string out = "0000-00-00T00:00:00.000Z";
  put(&out[0], static_cast<unsigned>(year), 4);
  put(&out[5], month, 2);
  put(&out[8], day, 2);
  put(&out[11], static_cast<unsigned>(msOfDay / 3600000), 2);
  put(&out[14], static_cast<unsigned>(msOfDay / 60000 % 60), 2);
  put(&out[17], static_cast<unsigned>(msOfDay / 1000 % 60), 2);
  put(&out[20], static_cast<unsigned>(msOfDay % 1000), 3);
  return out;
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(const std::string& s, size_t at, size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

bool parseRfc3339(const std::string& s, int64_t& unixMs) {
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return false;
  size_t at = 19;
  int millis = 0;
  if (at < s.size() && s[at] == '.') {
    size_t n = 0;
    for (++at; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at, ++n) {
      if (n < 3) millis = millis * 10 + (s[at] - '0');
    }
    if (n == 0) return false;
    for (; n < 3; ++n) millis *= 10;
  }
  int64_t offsetMinutes = 0;
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    int oh, om;
    if (!digits(s, at + 1, 2, oh) || at + 3 >= s.size() || s[at + 3] != ':' ||
        !digits(s, at + 4, 2, om) || oh > 23 || om > 59)
      return false;
    offsetMinutes = (s[at] == '-' ? -1 : 1) * (oh * 60 + om);
    at += 6;
  } else {
    return false;
  }
  if (at != s.size()) return false;
  const int64_t days =
      daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  unixMs = seconds * 1000 + millis;
  return true;
}

}  // namespace plexus
