#include "smtp_sink.hpp"

#include <Poco/Timespan.h>

#include <cctype>
#include <set>

namespace plexus::test {

SmtpSink::SmtpSink() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
  thread_ = std::thread([this] { serve(); });
}

SmtpSink::~SmtpSink() {
  stop_ = true;
  thread_.join();
}

int SmtpSink::count(const std::string& text) const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& m : messages_) n += m.find(text) != std::string::npos;
  return n;
}

SmtpSink::Tally SmtpSink::tally(const std::string& text) const {
  std::lock_guard<std::mutex> lock(mu_);
  Tally t;
  std::set<std::string> ids;
  for (const auto& m : messages_) {
    if (m.find(text) == std::string::npos) continue;
    ++t.raw;
    const std::string id = messageIdOf(m);
    if (id.empty() || ids.insert(id).second) ++t.distinct;
  }
  return t;
}

std::string SmtpSink::messageIdOf(const std::string& message) {
  static const std::string kName = "message-id:";
  size_t pos = 0;
  while (pos < message.size()) {
    size_t eol = message.find('\n', pos);
    if (eol == std::string::npos) eol = message.size();
    const std::string line = message.substr(pos, eol - pos);
    if (line.empty()) break;  // end of the headers
    if (line.size() > kName.size()) {
      std::string head = line.substr(0, kName.size());
      for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (head == kName) {
        const size_t start = line.find_first_not_of(" \t", kName.size());
        return start == std::string::npos ? std::string() : line.substr(start);
      }
    }
    pos = eol + 1;
  }
  return {};
}

std::vector<std::string> SmtpSink::messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_;
}

void SmtpSink::serve() {
  while (!stop_) {
    if (!socket_.poll(Poco::Timespan(0, 100000), Poco::Net::Socket::SELECT_READ)) continue;
    Poco::Net::StreamSocket c = socket_.acceptConnection();
    c.setReceiveTimeout(Poco::Timespan(5, 0));
    try {
      session(c);
    } catch (const std::exception&) {
      // A broken client session loses only its own message.
    }
  }
}

void SmtpSink::session(Poco::Net::StreamSocket& c) {
  auto say = [&](const std::string& line) {
    c.sendBytes(line.data(), static_cast<int>(line.size()));
  };
  std::string buffer, message;
  bool data = false;
  say("220 sink\r\n");
  char chunk[4096];
  for (;;) {
    const int n = c.receiveBytes(chunk, sizeof chunk);
    if (n <= 0) return;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t eol;
    while ((eol = buffer.find("\r\n")) != std::string::npos) {
      const std::string line = buffer.substr(0, eol);
      buffer.erase(0, eol + 2);
      if (data) {
        if (line == ".") {
          data = false;
          {
            std::lock_guard<std::mutex> lock(mu_);
            messages_.push_back(message);
          }
          message.clear();
          say("250 queued\r\n");
        } else {
          message += line + "\n";
        }
      } else if (line.rfind("DATA", 0) == 0) {
        data = true;
        say("354 go on\r\n");
      } else if (line.rfind("QUIT", 0) == 0) {
        say("221 bye\r\n");
        return;
      } else {
        if (line.rfind("RCPT", 0) == 0) message += line + "\n";
        say("250 ok\r\n");
      }
    }
  }
}

}  // namespace plexus::test
