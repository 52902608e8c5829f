#include "support.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <strings.h>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace plexus::test {

std::string testPlugin(const std::string& name) {
  return std::string(PLEXUS_TEST_PLUGIN_DIR) + "/plexus_" + name + ".so";
}
std::string plugin(const std::string& name) {
  return std::string(PLEXUS_PLUGIN_DIR) + "/plexus_" + name + ".so";
}

TempDir::TempDir() {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/plexus-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
  ::chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  const std::string p = file(name);
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

std::string TempDir::copy(const std::string& from, const std::string& name) const {
  const std::string p = file(name);
  std::filesystem::copy_file(from, p, std::filesystem::copy_options::overwrite_existing);
  ::chmod(p.c_str(), 0755);
  return p;
}

HttpResult http(int port, const std::string& method, const std::string& uri,
                const std::string& body, const std::map<std::string, std::string>& headers,
                const std::string& contentType) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.setContentType(contentType);
    req.setContentLength64(static_cast<Poco::Int64>(body.size()));
  }
  std::ostream& os = session.sendRequest(req);
  os << body;
  Poco::Net::HTTPResponse resp;
  std::istream& is = session.receiveResponse(resp);
  HttpResult r;
  r.status = resp.getStatus();
  Poco::StreamCopier::copyToString(is, r.body);
  for (const auto& [k, v] : resp) r.headers[k] = v;
  return r;
}

int connectLoopback(int port, const std::string& from, bool nonBlocking) {
  const int fd =
      ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  const int one = 1;  // the port is picked at connect: many sockets per local address
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, from.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      (::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0 &&
       !(nonBlocking && errno == EINPROGRESS))) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

RawConnection::RawConnection(int port, const std::string& from) : fd_(connectLoopback(port, from)) {
  if (fd_ < 0) throw std::runtime_error("connect from " + from + ": " + strerror(errno));
}

RawConnection::~RawConnection() { close(); }

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

namespace {
// Reads more into `buf` within the deadline; false on EOF, error or timeout.
bool readMore(int fd, std::string& buf, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
  if (left <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
  char chunk[16384];
  const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buf.append(chunk, static_cast<size_t>(n));
  return true;
}
}  // namespace

HttpResult RawConnection::read(int timeoutMs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  HttpResult r;
  size_t end;
  while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    if (!readMore(fd_, buffered_, deadline)) return r;
  }
  std::istringstream head(buffered_.substr(0, end));
  std::string line;
  std::getline(head, line);
  if (line.size() >= 12) r.status = std::atoi(line.c_str() + 9);
  size_t length = 0;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers[line.substr(0, colon)] = value;
    if (strcasecmp(line.substr(0, colon).c_str(), "Content-Length") == 0)
      length = std::stoul(value);
  }
  buffered_.erase(0, end + 4);
  if (r.status == 100 || r.status == 204 || r.status == 304) return r;
  while (buffered_.size() < length) {
    if (!readMore(fd_, buffered_, deadline)) {
      r.status = 0;
      return r;
    }
  }
  r.body = buffered_.substr(0, length);
  buffered_.erase(0, length);
  return r;
}

bool RawConnection::waitClosed(int timeoutMs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return true;  // EOF or reset
  }
}

RunResult runHost(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env) {
  Poco::Pipe outPipe, errPipe;
  Poco::Process::Env e(env.begin(), env.end());
  Poco::ProcessHandle h =
      Poco::Process::launch(PLEXUS_HOST_BIN, args, ".", nullptr, &outPipe, &errPipe, e);
  Poco::PipeInputStream out(outPipe), err(errPipe);
  RunResult r;
  // Read both pipes to the end (the child's output is small; read stderr after stdout closes).
  Poco::StreamCopier::copyToString(out, r.out);
  Poco::StreamCopier::copyToString(err, r.err);
  r.exitCode = h.wait();
  return r;
}

HostProcess::HostProcess(const std::string& configPath,
                         const std::map<std::string, std::string>& env,
                         const std::string& command) {
  std::vector<std::string> args;
  if (!command.empty()) args.push_back(command);
  args.push_back("--config");
  args.push_back(configPath);
  Poco::Process::Env e(env.begin(), env.end());
  handle_ = std::make_unique<Poco::ProcessHandle>(Poco::Process::launch(
      PLEXUS_HOST_BIN, args, PLEXUS_SOURCE_DIR, nullptr, &outPipe_, nullptr, e));
  reader_ = std::thread([this] {
    Poco::PipeInputStream in(outPipe_);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      std::lock_guard<std::mutex> lock(mu_);
      output_ += line + "\n";
      // The host logs {"msg":"listening","port":N,"management_port":M} once it accepts
      // connections ("management_port" only with a management listener).
      if (j.is_object() && j.value("msg", "") == "listening") {
        managementPort_ = j.value("management_port", 0);
        port_ = j.value("port", 0);
      }
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    eof_ = true;
    cv_.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return port_ != 0 || eof_; }) ||
      port_ == 0) {
    const std::string out = output_;
    lock.unlock();
    ::kill(pid(), SIGKILL);
    handle_->wait();
    exited_ = true;
    reader_.join();
    throw std::runtime_error("host did not start listening:\n" + out);
  }
}

HostProcess::~HostProcess() {
  if (!exited_) {
    ::kill(pid(), SIGKILL);
    try {
      handle_->wait();
    } catch (...) {
    }
  }
  if (reader_.joinable()) reader_.join();
}

std::string HostProcess::output() const {
  std::lock_guard<std::mutex> lock(mu_);
  return output_;
}

void HostProcess::signal(int sig) const { ::kill(pid(), sig); }

std::optional<int> HostProcess::waitExit(int timeoutMs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    const pid_t r = ::waitpid(pid(), &status, WNOHANG);
    if (r == pid()) {
      exited_ = true;
      if (reader_.joinable()) reader_.join();
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(20));  // polling a deadline-bounded condition
  }
  return std::nullopt;
}

}  // namespace plexus::test
