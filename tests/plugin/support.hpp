#pragma once
// Helpers shared by the plugin-tier tests: temp dirs, plugin paths, tiny HTTP client, a host child
// process whose ports are read from its "listening" log line.

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace plexus::test {

std::string testPlugin(const std::string& name);  // build/tests/fixture_plugins/plexus_<name>.so
std::string plugin(const std::string& name);      // build/plugins/plexus_<name>.so

// A fresh directory (mode 0755) removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& content) const;
  std::string copy(const std::string& from, const std::string& name) const;

 private:
  std::string path_;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

HttpResult http(int port, const std::string& method, const std::string& uri,
                const std::string& body = "",
                const std::map<std::string, std::string>& headers = {},
                const std::string& contentType = "application/json");

// A TCP socket from `from` (any of 127.0.0.0/8) to 127.0.0.1:port, blocking or not (then the
// connect may still be in progress); -1 with errno set on failure.
int connectLoopback(int port, const std::string& from, bool nonBlocking = false);

// One TCP connection driven byte by byte, for what HTTP client libraries will not send: raw or
// partial requests, pipelining, Expect: 100-continue. `from` picks the local address (any of
// 127.0.0.0/8), so a test can be several clients on loopback.
class RawConnection {
 public:
  explicit RawConnection(int port, const std::string& from = "127.0.0.1");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // False when the peer closed or reset the connection.
  bool send(const std::string& bytes);
  // One response (status line, fields, Content-Length body). Status 0 when the connection closed,
  // reset or stayed silent for `timeoutMs` first.
  HttpResult read(int timeoutMs = 10000);
  // Waits up to `timeoutMs` for the peer to close; true when it did.
  bool waitClosed(int timeoutMs = 10000);
  void close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string buffered_;
};

// Runs build/bin/plexus-host with arguments; captures stdout and stderr.
struct RunResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};
RunResult runHost(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env = {});

// A serving host child process.
class HostProcess {
 public:
  explicit HostProcess(const std::string& configPath,
                       const std::map<std::string, std::string>& env = {},
                       const std::string& command = "");
  ~HostProcess();
  int port() const { return port_; }
  // The management listener's port (http.management_port), 0 when the host has none.
  int managementPort() const { return managementPort_; }
  int pid() const { return static_cast<int>(handle_->id()); }
  void signal(int sig) const;
  // Waits (bounded) for the process to exit and returns its exit code, or nullopt on timeout.
  std::optional<int> waitExit(int timeoutMs);
  std::string output() const;

 private:
  std::unique_ptr<Poco::ProcessHandle> handle_;
  Poco::Pipe outPipe_;
  std::thread reader_;  // drains the child's stdout so it never blocks on a full pipe
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;
  bool eof_ = false;
  int port_ = 0;
  int managementPort_ = 0;
  bool exited_ = false;
};

}  // namespace plexus::test
