#pragma once
// Money as an exact integer of minor units (cents for two decimals). Amounts arrive as JSON
// numbers or decimal text and are read digit by digit: no binary floating point touches an
// amount, so 0.29 is 29 cents and 0.291 is refused instead of being rounded somewhere. Header-only.
//
//   const int64_t cents = plexus::money::fromJson(body["totalAmount"], "totalAmount");  // 19.99 ->
//   1999 plexus::money::format(1999)  -> "19.99"       plexus::money::toJson(1999) -> 19.99 (a
//   number)

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace plexus::money {

// What is wrong with an amount, in the caller's words: "totalAmount must have at most 2 decimals".
class MoneyError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {

inline int64_t pow10(int n) {
  int64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

}  // namespace detail

// Decimal text in JSON number syntax ("19.99", "-0.5", "1e3", "12.300") -> minor units with
// `decimals` places. Refused (MoneyError naming `what`): anything else, more significant decimals
// than `decimals`, a value that does not fit in int64 minor units.
inline int64_t parse(std::string_view text, std::string_view what = "amount", int decimals = 2) {
  const std::string subject(what);
  if (decimals < 0 || decimals > 9) throw MoneyError(subject + ": decimals must be 0-9");
  size_t i = 0;
  const bool negative = i < text.size() && text[i] == '-';
  if (negative) ++i;
  std::string digits;  // all significant digits, integer part first
  int scale = 0;       // how many of `digits` are after the decimal point
  const size_t intStart = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') digits.push_back(text[i++]);
  const bool hasInt = i > intStart;
  bool hasFrac = false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      digits.push_back(text[i++]);
      ++scale;
      hasFrac = true;
    }
    if (!hasFrac) throw MoneyError(subject + " must be a decimal number");
  }
  if (!hasInt) throw MoneyError(subject + " must be a decimal number");
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool expNegative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) expNegative = text[i++] == '-';
    int exponent = 0;
    const size_t expStart = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (exponent < 1000) exponent = exponent * 10 + (text[i] - '0');
      ++i;
    }
    if (i == expStart) throw MoneyError(subject + " must be a decimal number");
    scale += expNegative ? exponent : -exponent;
  }
  if (i != text.size()) throw MoneyError(subject + " must be a decimal number");
  // Drop trailing zeros after the point ("12.300" has 1 significant decimal).
  while (scale > 0 && !digits.empty() && digits.back() == '0') {
    digits.pop_back();
    --scale;
  }
  if (scale > decimals) {
    throw MoneyError(subject + " must have at most " + std::to_string(decimals) + " decimals");
  }
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return 0;
  digits.erase(0, first);
  // Shift to minor units: append zeros; a negative scale (1e3) appends more.
  const int zeros = decimals - scale;
  if (static_cast<int>(digits.size()) + zeros > 18) throw MoneyError(subject + " is too large");
  digits.append(static_cast<size_t>(zeros), '0');
  int64_t value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return negative ? -value : value;
}

// A JSON number as an amount: integers exactly, other numbers through the shortest text that
// round-trips them, which is the text the client sent for any amount of up to 15 significant
// digits. Anything but a number is refused (decimal strings: use parse()).
inline int64_t fromJson(const nlohmann::json& v, std::string_view what = "amount",
                        int decimals = 2) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / detail::pow10(decimals)))
      throw MoneyError(std::string(what) + " is too large");
    return parse(std::to_string(u), what, decimals);
  }
  if (v.is_number()) return parse(v.dump(), what, decimals);
  throw MoneyError(std::string(what) + " must be a number");
}

// fromJson() for amounts that cannot be negative, with an upper bound in minor units.
inline int64_t nonNegativeFromJson(const nlohmann::json& v, std::string_view what = "amount",
                                   int64_t maxMinor = std::numeric_limits<int64_t>::max(),
                                   int decimals = 2) {
  const int64_t minor = fromJson(v, what, decimals);
  if (minor < 0) throw MoneyError(std::string(what) + " must be >= 0");
  if (minor > maxMinor) throw MoneyError(std::string(what) + " is too large");
  return minor;
}

// Minor units -> decimal text with exactly `decimals` places: 1999 -> "19.99", -5 -> "-0.05".
inline std::string format(int64_t minor, int decimals = 2) {
  const bool negative = minor < 0;
  // Work on the magnitude as unsigned so INT64_MIN has one.
  uint64_t m = negative ? 0 - static_cast<uint64_t>(minor) : static_cast<uint64_t>(minor);
  std::string digits = std::to_string(m);
  if (decimals > 0) {
    if (digits.size() <= static_cast<size_t>(decimals))
      digits.insert(0, static_cast<size_t>(decimals) + 1 - digits.size(), '0');
    digits.insert(digits.size() - static_cast<size_t>(decimals), 1, '.');
  }
  return negative ? "-" + digits : digits;
}

// Minor units -> a JSON number: whole amounts as integers (12), others as the double nearest to
// the decimal, which prints as it (19.99, not 19.989999...: IEEE division is correctly rounded,
// exact below 2^53 minor units).
inline nlohmann::json toJson(int64_t minor, int decimals = 2) {
  const int64_t unit = detail::pow10(decimals);
  if (minor % unit == 0) return nlohmann::json(minor / unit);
  return nlohmann::json(static_cast<double>(minor) / static_cast<double>(unit));
}

}  // namespace plexus::money
