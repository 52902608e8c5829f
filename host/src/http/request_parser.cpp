#include "http/request_parser.hpp"

#include <algorithm>
#include <cstring>

namespace plexus::http {
namespace {

constexpr size_t kMaxChunkLine = 1024;  // chunk size plus extensions

bool tchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u) != 0) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool token(const std::string& s) { return !s.empty() && std::all_of(s.begin(), s.end(), tchar); }

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Whether the comma-separated field value holds `word` (case-insensitive).
bool hasToken(const std::string& value, const char* word) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    if (iequals(trim(value.substr(start, comma - start)), word)) return true;
    start = comma + 1;
  }
  return false;
}

// Visible ASCII and obs-text; no controls (a bare CR or NUL smuggles framing).
bool fieldValueOk(const std::string& v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

bool digits(const std::string& s) {
  return !s.empty() && s.size() <= 18 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits off one line (without its CRLF or LF) from text at `pos`.
std::string nextLine(const std::string& text, size_t& pos) {
  size_t end = text.find('\n', pos);
  if (end == std::string::npos) end = text.size();
  std::string line = text.substr(pos, end - pos);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  pos = end + 1;
  return line;
}

}  // namespace

void RequestParser::reset() {
  state_ = State::Head;
  failure_ = Failure{};
  request_ = Request{};
  head_.clear();
  scanned_ = 0;
  line_.clear();
  trailerBytes_ = 0;
  chunk_ = Chunk::Size;
  chunkLeft_ = 0;
  contentLength_ = -1;
  bodyLeft_ = 0;
  bodyBytes_ = 0;
  keep_ = 0;
  discard_ = 0;
  chunked_ = false;
  expectContinue_ = false;
  oversized_ = false;
}

void RequestParser::fail(int status, std::string message) {
  state_ = State::Failed;
  failure_ = Failure{status, std::move(message)};
}

size_t RequestParser::feed(const char* data, size_t size) {
  switch (state_) {
    case State::Head:
      return feedHead(data, size);
    case State::Body:
      return chunked_ ? feedChunked(data, size) : feedBody(data, size);
    case State::Done:
    case State::Failed:
      return 0;
  }
  return 0;
}

size_t RequestParser::feedHead(const char* data, size_t size) {
  size_t used = 0;
  // Empty lines before the request line are ignored (RFC 9112 §2.2).
  if (head_.empty()) {
    while (used < size && (data[used] == '\r' || data[used] == '\n')) ++used;
  }
  const size_t room = limits_.maxHeaderBytes - std::min(limits_.maxHeaderBytes, head_.size());
  const size_t take = std::min(size - used, room);
  head_.append(data + used, take);
  // The end of the head: an empty line (CRLF CRLF; bare LF is accepted too).
  size_t end = std::string::npos, headEnd = 0;
  for (size_t i = std::max<size_t>(scanned_, 1); i < head_.size(); ++i) {
    if (head_[i] != '\n') continue;
    size_t prev = i - 1;
    if (head_[prev] == '\r') {
      if (prev == 0) continue;
      --prev;
    }
    if (head_[prev] == '\n') {
      end = prev;
      headEnd = i + 1;
      break;
    }
  }
  if (end == std::string::npos) {
    scanned_ = head_.size() >= 2 ? head_.size() - 2 : 0;
    if (take < size - used || head_.size() >= limits_.maxHeaderBytes) {
      const std::string limit = std::to_string(limits_.maxHeaderBytes);
      if (head_.find('\n') == std::string::npos)
        fail(414, "request line longer than " + limit + " bytes");
      else
        fail(431, "request header fields larger than " + limit + " bytes");
    }
    return used + take;
  }
  // Give back what followed the head: the body, or the next request.
  const size_t extra = head_.size() - headEnd;
  head_.resize(end);
  used += take - extra;
  parseHead();
  return used;
}

void RequestParser::parseHead() {
  size_t pos = 0;
  if (!parseRequestLine(nextLine(head_, pos))) return;
  while (pos < head_.size()) {
    const std::string line = nextLine(head_, pos);
    if (line.empty()) continue;
    if (line[0] == ' ' || line[0] == '\t') return fail(400, "obsolete line folding in a field");
    const size_t colon = line.find(':');
    if (colon == std::string::npos || !token(line.substr(0, colon)))
      return fail(400, "malformed header field");
    std::string value = trim(line.substr(colon + 1));
    if (!fieldValueOk(value)) return fail(400, "control character in a header field");
    if (static_cast<int>(request_.headers.size()) >= limits_.maxHeaders)
      return fail(431, "more than " + std::to_string(limits_.maxHeaders) + " header fields");
    request_.headers.emplace_back(line.substr(0, colon), std::move(value));
  }
  head_.clear();
  head_.shrink_to_fit();
  if (!parseFraming()) return;
  state_ = State::Body;
  if (!chunked_ && contentLength_ <= 0) finish();  // RFC 9112 §6.3: no framing, no body
}

bool RequestParser::parseRequestLine(const std::string& line) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos) {
    fail(400, "malformed request line");
    return false;
  }
  request_.method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  request_.version = line.substr(sp2 + 1);
  if (!token(request_.method)) {
    fail(400, "malformed request method");
    return false;
  }
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      fail(400, "malformed request target");
      return false;
    }
  }
  // absolute-form (sent to proxies; servers must accept it): keep the path and query.
  for (const char* scheme : {"http://", "https://"}) {
    const size_t n = std::strlen(scheme);
    if (target.size() > n && lower(target.substr(0, n)) == scheme) {
      const size_t slash = target.find_first_of("/?", n);
      target = slash == std::string::npos ? "/" : target.substr(slash);
      if (target[0] == '?') target.insert(0, "/");
    }
  }
  if (target.empty() || (target[0] != '/' && !(target == "*" && request_.method == "OPTIONS"))) {
    fail(400, "malformed request target");
    return false;
  }
  request_.target = std::move(target);
  const std::string& v = request_.version;
  if (v != "HTTP/1.1" && v != "HTTP/1.0") {
    const bool http = v.size() == 8 && v.compare(0, 5, "HTTP/") == 0 && std::isdigit(v[5]) &&
                      v[6] == '.' && std::isdigit(v[7]);
    fail(http ? 505 : 400, http ? "HTTP version not supported" : "malformed request line");
    return false;
  }
  return true;
}

// Content-Length, Transfer-Encoding, Connection and Expect. Ambiguous framing is refused rather
// than guessed at (request smuggling).
bool RequestParser::parseFraming() {
  const bool http10 = request_.version == "HTTP/1.0";
  std::string length, encoding, connection, expect;
  int lengths = 0, encodings = 0;
  for (const auto& [k, v] : request_.headers) {
    if (iequals(k, "Content-Length")) {
      if (lengths++ > 0 && v != length) {
        fail(400, "conflicting Content-Length fields");
        return false;
      }
      length = v;
    } else if (iequals(k, "Transfer-Encoding")) {
      ++encodings;
      encoding += (encoding.empty() ? "" : ",") + v;
    } else if (iequals(k, "Connection")) {
      connection += (connection.empty() ? "" : ",") + v;
    } else if (iequals(k, "Expect")) {
      expect = v;
    }
  }
  if (encodings > 0) {
    if (lengths > 0 || http10) {
      fail(400, lengths > 0 ? "both Content-Length and Transfer-Encoding"
                            : "Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    if (!iequals(trim(encoding), "chunked")) {
      fail(501, "only the chunked transfer coding is supported");
      return false;
    }
    chunked_ = true;
  } else if (lengths > 0) {
    if (!digits(length)) {
      fail(400, "malformed Content-Length");
      return false;
    }
    contentLength_ = std::stoll(length);
    bodyLeft_ = contentLength_;
  }
  request_.keepAlive = http10 ? hasToken(connection, "keep-alive") : !hasToken(connection, "close");
  if (!expect.empty()) {
    if (!iequals(expect, "100-continue")) {
      fail(417, "only Expect: 100-continue is supported");
      return false;
    }
    expectContinue_ = !http10;
  }
  return true;
}

void RequestParser::takeBody(const char* data, size_t n) {
  bodyBytes_ += static_cast<int64_t>(n);
  if (!oversized_ && bodyBytes_ <= keep_) {
    request_.body.append(data, n);
    return;
  }
  if (!oversized_) {  // the kept part goes: a refused body is never handed on
    oversized_ = true;
    request_.body.clear();
    request_.body.shrink_to_fit();
  }
  if (bodyBytes_ > keep_ + discard_) {
    fail(413, "request body larger than " + std::to_string(keep_) + " bytes");
  }
}

size_t RequestParser::feedBody(const char* data, size_t size) {
  const auto n = static_cast<size_t>(std::min<int64_t>(bodyLeft_, static_cast<int64_t>(size)));
  takeBody(data, n);
  bodyLeft_ -= static_cast<int64_t>(n);
  if (state_ == State::Body && bodyLeft_ == 0) finish();
  return n;
}

size_t RequestParser::feedChunked(const char* data, size_t size) {
  size_t used = 0;
  while (used < size && state_ == State::Body) {
    if (chunk_ == Chunk::Data) {
      const auto n =
          static_cast<size_t>(std::min<int64_t>(chunkLeft_, static_cast<int64_t>(size - used)));
      takeBody(data + used, n);
      used += n;
      chunkLeft_ -= static_cast<int64_t>(n);
      if (chunkLeft_ == 0) chunk_ = Chunk::DataEnd;
      continue;
    }
    const char c = data[used++];
    if (c != '\n') {
      line_ += c;
      const size_t limit = chunk_ == Chunk::Trailer ? limits_.maxHeaderBytes : kMaxChunkLine;
      if (line_.size() > limit || (chunk_ == Chunk::Trailer && trailerBytes_ > limit)) {
        fail(chunk_ == Chunk::Trailer ? 431 : 400,
             chunk_ == Chunk::Trailer ? "chunked trailer too large" : "chunk size line too long");
      }
      ++trailerBytes_;
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    std::string line;
    line.swap(line_);
    if (chunk_ == Chunk::DataEnd) {
      if (!line.empty()) fail(400, "malformed chunked body");
      chunk_ = Chunk::Size;
    } else if (chunk_ == Chunk::Trailer) {
      if (line.empty()) finish();  // trailer fields are read and dropped
    } else {
      const std::string size16 = trim(line.substr(0, line.find(';')));
      if (size16.empty() || size16.size() > 15 ||
          size16.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        fail(400, "malformed chunk size");
        break;
      }
      chunkLeft_ = std::stoll(size16, nullptr, 16);
      chunk_ = chunkLeft_ == 0 ? Chunk::Trailer : Chunk::Data;
      trailerBytes_ = 0;
    }
  }
  return used;
}

}  // namespace plexus::http
