// Reference for footprint and start time: linked with the host's libraries (see CMakeLists.txt),
// runs none of the host's code. `--exit` returns at once (exec time); otherwise it is the minimal
// Poco HTTP server with the host's server parameters (threads, queue, keep-alive, timeouts, pool)
// on --port, answering every request with a small JSON body: the HTTP ceiling for wrk, and the
// same /health/ready target for plexus-bench-ready.
#include "common.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <signal.h>

namespace {

class Ok final : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& res) override {
    // A length, as the host sends: without one Poco closes the connection after the body.
    static const std::string body = R"({"status":"ready"})";
    res.setContentType("application/json");
    res.setContentLength(static_cast<std::streamsize>(body.size()));
    res.send() << body;
  }
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Ok;
  }
};

}  // namespace

int main(int argc, char** argv) {
  return bench::guarded([&] {
    const bench::Args args(argc, argv);
    if (args.has("exit")) return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // The host's HTTP parameters (config http.*): queue 1024, keep-alive 10 s, timeout 30 s. Poco's
    // server holds a thread per keep-alive connection: 64 serve wrk's 32 connections (the host's
    // front end reads and writes on one loop and needs threads only for complete requests).
    Poco::Net::ServerSocket socket;
    socket.bind(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(args.num("port", 0))), true,
        false);
    socket.listen(1024);
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(64);
    params->setMaxQueued(1024);
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(10, 0));
    params->setTimeout(Poco::Timespan(30, 0));
    Poco::ThreadPool pool(2, 64, 60);
    Poco::Net::HTTPServer server(new Factory, pool, socket, params);
    server.start();
    int sig = 0;
    sigwait(&set, &sig);
    server.stop();
  });
}
