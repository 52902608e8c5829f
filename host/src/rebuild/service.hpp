#pragma once
// Rebuilds inside a serving host (POST /admin/rebuilds): each runs on a thread of its own. Every
// host of a deployment also answers replay requests from the others (with a broker), and drops
// retired read models once their grace period ended, and the shadows of rebuilds whose process
// died (the janitor).

#include "config/config.hpp"
#include "rebuild/record.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace plexus {
class Clock;
class Metrics;
}  // namespace plexus
namespace plexus::plugin {
class Runtime;
}
namespace plexus::store {
class Store;
}

namespace plexus::rebuild {

class Rebuild;
class ReplayResponder;

// A request the service refuses: `status` is the admin API's answer (400, 404, 409).
class ServiceError : public std::runtime_error {
 public:
  ServiceError(int status, const std::string& what) : std::runtime_error(what), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

class Service {
 public:
  Service(const config::Config& config, store::Store& live, plugin::Runtime& runtime,
          Metrics& metrics, const Clock& clock);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // The janitor, and the replay responder when the host has a broker.
  void start();
  // Cancels the rebuilds running here (their shadows go; the old models stay) and stops.
  void stop();

  // Starts a rebuild of "plugin/perspective" in the background; its record as it begins.
  // `tables` empty: the tables the replay fills. Throws ServiceError.
  Record rebuild(const std::string& component, const std::vector<std::string>& tables);
  // False when that rebuild does not run in this host.
  bool cancel(const std::string& id);
  std::vector<Record> list(int limit);
  std::optional<Record> get(const std::string& id);
  // One janitor pass (tests call it; the janitor thread calls it periodically).
  void sweep();

 private:
  struct Running {
    std::unique_ptr<Rebuild> rebuild;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void janitorLoop();
  void reap();  // joins finished rebuild threads

  const config::Config& config_;
  store::Store& live_;
  plugin::Runtime& runtime_;
  Metrics& metrics_;
  const Clock& clock_;
  std::unique_ptr<ReplayResponder> responder_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Running>> running_;
  std::thread janitor_;
};

}  // namespace plexus::rebuild
