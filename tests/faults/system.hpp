#pragma once
// The distributed ECommerce system for the fault tier: seven hosts from config/*.json on the
// PostgreSQL and RabbitMQ (one node, or the three-node cluster) of scripts/services, each host
// restartable (with or without a PLEXUS_FAULT plan), plus the server-side faults (RabbitMQ
// stop/start, PostgreSQL immediate stop/start) done through scripts/services so they hit exactly
// the servers the tier uses.

#include "smtp_sink.hpp"
#include "support.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace plexus::faults {

extern const std::vector<std::string> kServices;

class System {
 public:
  // Drops and migrates the seven schemas, then starts every host and waits until all are ready.
  // `amqpUrls`: the broker nodes, comma-separated (PLEXUS_AMQP_URLS of the shipped configs); empty
  // = the one node of PLEXUS_AMQP_URL.
  explicit System(test::SmtpSink& smtp, const std::string& amqpUrls = "");
  ~System();

  int port(const std::string& service) const;
  int pid(const std::string& service) const;  // 0 when the host is not running
  // SIGKILL, then restart (armed with `fault` when not empty: PLEXUS_FAULT=<fault>).
  void kill(const std::string& service);
  void start(const std::string& service, const std::string& fault = "");
  // Whether the host exited on its own (a fault point fired); reaps it.
  bool exited(const std::string& service);
  // Ready with the broker connected; `why` (optional) gets the last answer or error.
  bool ready(const std::string& service, std::string* why = nullptr) const;
  void waitReady(const std::string& service, int timeoutMs) const;
  // Output of every host process this run started, dead or alive.
  std::string output() const;
  // The end of one running host's output (what a failure message shows).
  std::string tail(const std::string& service) const;

  // scripts/services <cmd> <name> with the test's environment; throws on failure.
  static void services(const std::string& cmd, const std::string& name,
                       const std::string& extraEnv = "");
  // The standard output of `scripts/services ctl <name> <args>` (rabbitmqctl on that node).
  static std::string ctl(const std::string& name, const std::string& args);

 private:
  std::map<std::string, std::string> env_;
  std::map<std::string, std::unique_ptr<test::HostProcess>> hosts_;
  std::vector<std::string> finished_;  // output of replaced processes
  mutable std::mutex mu_;
};

std::string schemaOf(const std::string& service);

}  // namespace plexus::faults
