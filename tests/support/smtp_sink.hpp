#pragma once
// A local SMTP sink: speaks just enough SMTP for Poco's client and keeps every message it
// receives, so tests count the emails a system really sent.

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace plexus::test {

class SmtpSink {
 public:
  SmtpSink();
  ~SmtpSink();
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  int port() const { return socket_.address().port(); }
  // How many received messages contain `text`.
  int count(const std::string& text) const;
  std::vector<std::string> messages() const;

 private:
  void serve();
  void session(Poco::Net::StreamSocket& c);

  Poco::Net::ServerSocket socket_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
};

}  // namespace plexus::test
