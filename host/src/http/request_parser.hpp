#pragma once
// An incremental HTTP/1.1 request parser (RFC 9112) with hard limits: the head (request line and
// fields) up to a byte limit and a field count, then the body framed by Content-Length or chunked
// transfer coding, kept up to one limit and read away (not stored) up to a second. Memory per
// request is therefore bounded by maxHeaderBytes + the kept body, whatever the client sends.
// Bytes after the end of a request (a pipelined next request) are left unconsumed.

#include "http/message.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace plexus::http {

class RequestParser {
 public:
  struct Limits {
    size_t maxHeaderBytes = 64 << 10;  // request line + fields + the blank line
    int maxHeaders = 64;
  };
  enum class State {
    Head,    // reading the request line and fields
    Body,    // head parsed (see request()), reading the body
    Done,    // a whole request was read
    Failed,  // see failure(); the connection must close after answering it
  };
  struct Failure {
    int status = 400;
    std::string message;
  };

  explicit RequestParser(Limits limits) : limits_(limits) {}

  // Forgets the last request; the next feed() starts a new one.
  void reset();

  // Consumes bytes up to the end of the current request; returns how many it took. Call again
  // with the rest when the state changes from Head to Body (after limitBody()).
  size_t feed(const char* data, size_t size);

  State state() const { return state_; }
  const Failure& failure() const { return failure_; }
  // The request: its head once the state is Body, its body too once it is Done.
  Request& request() { return request_; }
  const Request& request() const { return request_; }

  int64_t contentLength() const { return contentLength_; }  // -1 when chunked or absent
  bool chunked() const { return chunked_; }
  bool expectsContinue() const { return expectContinue_; }
  // How much of the body to keep, then how much more to read away before failing with 413 (call
  // in state Body before feeding the body; the default keeps nothing and reads away nothing).
  void limitBody(int64_t keep, int64_t discard) {
    keep_ = keep;
    discard_ = discard;
  }
  // The body was larger than the kept limit: its bytes were read away, not stored.
  bool oversized() const { return oversized_; }
  // Body bytes received so far (kept or read away).
  int64_t bodyBytes() const { return bodyBytes_; }

 private:
  enum class Chunk { Size, Data, DataEnd, Trailer };

  size_t feedHead(const char* data, size_t size);
  size_t feedBody(const char* data, size_t size);
  size_t feedChunked(const char* data, size_t size);
  void parseHead();
  bool parseRequestLine(const std::string& line);
  bool parseFraming();
  void takeBody(const char* data, size_t n);
  void fail(int status, std::string message);
  void finish() { state_ = State::Done; }

  Limits limits_;
  State state_ = State::Head;
  Failure failure_;
  Request request_;
  std::string head_;    // the head so far
  size_t scanned_ = 0;  // head_ before this holds no end of head
  std::string line_;    // a chunk-size or trailer line being read
  size_t trailerBytes_ = 0;
  Chunk chunk_ = Chunk::Size;
  int64_t chunkLeft_ = 0;
  int64_t contentLength_ = -1;
  int64_t bodyLeft_ = 0;  // Content-Length bytes still to come
  int64_t bodyBytes_ = 0;
  int64_t keep_ = 0;
  int64_t discard_ = 0;
  bool chunked_ = false;
  bool expectContinue_ = false;
  bool oversized_ = false;
};

}  // namespace plexus::http
