#include "http/router.hpp"

#include <algorithm>

namespace plexus::http {
namespace {
bool isParam(const std::string& s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }
int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool Router::split(const std::string& path, std::vector<std::string>& segments) {
  segments.clear();
  if (path.empty() || path[0] != '/') return false;
  size_t i = 1;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string::npos) slash = path.size();
    std::string raw = path.substr(i, slash - i);
    std::string seg;
    for (size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '%') {
        if (k + 2 >= raw.size()) return false;
        const int hi = hex(raw[k + 1]), lo = hex(raw[k + 2]);
        if (hi < 0 || lo < 0) return false;
        seg.push_back(static_cast<char>(hi * 16 + lo));
        k += 2;
      } else {
        seg.push_back(raw[k]);
      }
    }
    segments.push_back(std::move(seg));
    i = slash + 1;
  }
  // "/a/b/" and "/a/b" are the same resource; "/" is no segments.
  if (!segments.empty() && segments.back().empty()) segments.pop_back();
  return true;
}

bool Router::add(const std::string& method, const std::string& pathTemplate, size_t route,
                 std::string& error) {
  Entry e;
  e.method = method;
  e.route = route;
  if (!split(pathTemplate, e.segments)) {
    error = "invalid path template " + pathTemplate;
    return false;
  }
  for (const auto& s : e.segments) {
    if (s.empty()) {
      error = "empty segment in path template " + pathTemplate;
      return false;
    }
    if (!isParam(s)) {
      if (s.find('{') != std::string::npos || s.find('}') != std::string::npos) {
        error = "a parameter must fill a whole segment in " + pathTemplate;
        return false;
      }
      ++e.literals;
    }
  }
  entries_.push_back(std::move(e));
  // Most specific first.
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.literals > b.literals; });
  return true;
}

Router::Match Router::match(const std::string& method, const std::string& path) const {
  Match m;
  std::vector<std::string> segs;
  if (!split(path, segs)) return m;
  for (const auto& e : entries_) {
    if (e.segments.size() != segs.size()) continue;
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      if (isParam(e.segments[i])) {
        if (segs[i].empty()) ok = false;
        params.emplace_back(e.segments[i].substr(1, e.segments[i].size() - 2), segs[i]);
      } else {
        ok = e.segments[i] == segs[i];
      }
    }
    if (!ok) continue;
    if (e.method == method) {
      if (m.kind != Match::Kind::Found) {
        m.kind = Match::Kind::Found;
        m.route = e.route;
        m.params = std::move(params);
      }
    } else if (std::find(m.allowed.begin(), m.allowed.end(), e.method) == m.allowed.end()) {
      m.allowed.push_back(e.method);
    }
  }
  if (m.kind != Match::Kind::Found && !m.allowed.empty()) m.kind = Match::Kind::MethodNotAllowed;
  return m;
}

}  // namespace plexus::http
