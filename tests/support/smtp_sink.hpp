#pragma once
// A local SMTP sink: speaks just enough SMTP for Poco's client and keeps every message it
// receives, so tests count the emails a system really sent. Sends are at-least-once with a stable
// Message-ID, so the business effect is the number of DISTINCT Message-IDs; a resend with the same
// Message-ID is a redelivery a mail system dedupes, not a second email.

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

  struct Tally {
    int raw = 0;       // messages received that contain the text
    int distinct = 0;  // distinct Message-IDs among them (a message without one counts alone)
    int redelivered() const { return raw - distinct; }
  };
  Tally tally(const std::string& text) const;
  // The Message-ID header's value ("<...>"), or "" when the message has none.
  static std::string messageIdOf(const std::string& message);

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
