#include "admin/response.hpp"

#include <ctime>
#include <plexus/sdk/rfc3339.hpp>

namespace plexus::admin {
namespace {

using nlohmann::json;

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

plugin::HttpResponse jsonOk(int status, const json& body) {
  plugin::HttpResponse out;
  out.status = status;
  out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  out.headers.emplace_back("Cache-Control", "no-store");
  return out;
}

plugin::HttpResponse jsonError(int status, const std::string& message) {
  return jsonOk(status, json{{"error", message}});
}

plugin::HttpResponse methodNotAllowed(const std::string& allow) {
  plugin::HttpResponse out = jsonError(405, "method not allowed");
  out.headers.emplace_back("Allow", allow);
  return out;
}

std::optional<std::string> percentDecode(const std::string& s, bool plusIsSpace) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hexDigit(s[i + 1]), lo = hexDigit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (s[i] == '+' && plusIsSpace) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string percentEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~' || c == ':';
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool validId(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

Query::Query(const std::string& raw) {
  size_t at = 0;
  while (at <= raw.size() && !raw.empty()) {
    size_t amp = raw.find('&', at);
    if (amp == std::string::npos) amp = raw.size();
    const std::string pair = raw.substr(at, amp - at);
    const size_t eq = pair.find('=');
    const auto key = percentDecode(pair.substr(0, eq), true);
    const auto value =
        percentDecode(eq == std::string::npos ? std::string() : pair.substr(eq + 1), true);
    if (!key || !value) throw BadParam("malformed query string (bad % escape)");
    if (!key->empty()) values_[*key] = *value;
    at = amp + 1;
  }
}

std::string Query::text(const std::string& key, size_t maxBytes) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return "";
  if (it->second.size() > maxBytes)
    throw BadParam(key + " is longer than " + std::to_string(maxBytes) + " bytes");
  return it->second;
}

int64_t Query::integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
  const std::string v = text(key, 32);
  if (v.empty()) return fallback;
  const std::string range =
      key + " must be an integer between " + std::to_string(min) + " and " + std::to_string(max);
  if (v.find_first_not_of("-0123456789") != std::string::npos) throw BadParam(range);
  try {
    size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used != v.size() || n < min || n > max) throw BadParam(range);
    return n;
  } catch (const std::logic_error&) {
    throw BadParam(range);
  }
}

std::optional<int64_t> Query::time(const std::string& key) const {
  const std::string v = text(key, 64);
  if (v.empty()) return std::nullopt;
  if (v.find_first_not_of("0123456789") == std::string::npos && v.size() <= 15) {
    return std::stoll(v);
  }
  const auto ms = rfc3339::parse(v);
  if (!ms) throw BadParam(key + " must be an RFC 3339 time (2026-01-02T03:04:05Z) or Unix ms");
  return ms;
}

}  // namespace plexus::admin
