#pragma once
// The HTTP/1.1 front end: one epoll loop thread accepts connections and reads request heads and
// bodies under whole-phase deadlines, then hands complete requests to a worker pool and writes
// the answers back. A slow or idle client therefore costs a socket and a small buffer, never a
// thread. Connections are capped in all and per client address; refusals are answered with 503,
// counted in metrics and logged (rate-limited), never a silent file-descriptor exhaustion.

#include "http/message.hpp"
#include "http/request_parser.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace Poco::Net {
class ServerSocket;
}

namespace plexus {
class Metrics;
}

namespace plexus::http {

class WorkerPool;

class FrontEnd {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    int port = 8080;
    int managementPort = -1;  // -1: none; 0: any free port
    int backlog = 1024;
    RequestParser::Limits head;
    int64_t maxBodyBytes = 1 << 20;
    int64_t discardBytes = 64ll << 20;  // read away beyond maxBodyBytes so the client sees 413
    int maxConnections = 10000;
    int maxConnectionsPerClient = 256;
    int maxManagementConnections = 64;
    int keepAliveMs = 10000;
    int headerTimeoutMs = 10000;
    int bodyTimeoutMs = 30000;
    int requestTimeoutMs = 30000;
    int workers = 64;
    int queue = 1024;
    int managementWorkers = 2;
    int managementQueue = 64;
  };

  // What the front end cannot decide by itself. Called concurrently; must not throw.
  class Handler {
   public:
    virtual ~Handler() = default;
    // On a worker: the answer to a complete request.
    virtual Response handle(Request& request) = 0;
    // On the loop thread: the front end's own refusal (408, 413, 414, 431, 503, ...) as a
    // response. `request` holds the head when it was read, else null.
    virtual Response refuse(const Request* request, int status, const std::string& message) = 0;
  };

  FrontEnd(Options options, Handler& handler, Metrics& metrics);
  ~FrontEnd();
  FrontEnd(const FrontEnd&) = delete;
  FrontEnd& operator=(const FrontEnd&) = delete;

  // Binds the listeners (Poco::Net::NetException on a busy port) and starts the loop.
  void start();
  int port() const { return port_; }
  int managementPort() const { return managementPort_; }  // 0 when there is none
  int maxConnections() const { return maxConnections_; }  // after the file-descriptor limit

  // Closes the listeners. Idle connections close; every later response says Connection: close.
  void stopAccepting();
  // Waits until no request is being read, handled or written, at most `budget`. True when idle.
  bool waitIdle(std::chrono::milliseconds budget);
  // Closes every connection and stops the loop and the workers (running handlers finish).
  void stop();

  struct Loop;  // the loop thread's state (front_end.cpp)

 private:
  Options options_;
  Handler& handler_;
  Metrics& metrics_;
  std::unique_ptr<Poco::Net::ServerSocket> main_;
  std::unique_ptr<Poco::Net::ServerSocket> management_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<WorkerPool> managementWorkers_;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  int port_ = 0;
  int managementPort_ = 0;
  int maxConnections_ = 0;
};

}  // namespace plexus::http
