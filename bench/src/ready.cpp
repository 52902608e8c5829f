// exec -> first `GET /health/ready` 200, for a command line after `--` (it must serve on --port).
// Polls every millisecond. With --idle-ms T it then stays idle T ms (only /proc is read) and
// reports the child's resident set (VmRSS). The child gets SIGTERM at the end.
//   plexus-bench-ready --port 18080 [--idle-ms 1000] -- build/bin/plexus-host --config F
#include "common.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Process.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

namespace {

bool ready(int port) {
  try {
    Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port));
    s.setTimeout(Poco::Timespan(1, 0));
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, "/health/ready",
                               Poco::Net::HTTPMessage::HTTP_1_1);
    s.sendRequest(req);
    Poco::Net::HTTPResponse res;
    s.receiveResponse(res);
    return res.getStatus() == Poco::Net::HTTPResponse::HTTP_OK;
  } catch (const Poco::Exception&) {
    return false;
  }
}

long rssKib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  int split = 1;
  while (split < argc && std::string(argv[split]) != "--") ++split;
  if (split + 1 >= argc) {
    std::cerr << "usage: plexus-bench-ready --port N [--idle-ms T] -- COMMAND [ARGS...]\n";
    return 2;
  }
  return bench::guarded([&] {
    const bench::Args args(split, argv);
    const int port = static_cast<int>(args.num("port", 0));
    const long idleMs = args.num("idle-ms", 0);
    const long timeoutMs = args.num("timeout-ms", 30000);
    if (port == 0) throw std::invalid_argument("--port is required");
    std::vector<std::string> rest(argv + split + 2, argv + argc);
    const double t0 = bench::nowSeconds();
    Poco::ProcessHandle child = Poco::Process::launch(argv[split + 1], rest);
    const pid_t pid = static_cast<pid_t>(child.id());
    double readyAt = 0;
    while (bench::nowSeconds() - t0 < static_cast<double>(timeoutMs) / 1000.0) {
      if (ready(port)) {
        readyAt = bench::nowSeconds();
        break;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) throw std::runtime_error("the command exited");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll interval, not a wait
    }
    long rss = -1;
    if (readyAt > 0 && idleMs > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(idleMs));  // idle on purpose
      rss = rssKib(pid);
    }
    ::kill(pid, SIGTERM);
    child.wait();
    if (readyAt == 0) throw std::runtime_error("not ready within --timeout-ms");
    bench::print({{"ready_ms", (readyAt - t0) * 1000.0}, {"rss_kib", rss}});
  });
}
