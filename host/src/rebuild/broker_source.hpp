#pragma once
// The events of every deployment's event store, for a rebuild in a distributed system
// (rebuild/replay_protocol.hpp): the tap queue is bound first, then the replay request goes out;
// the history is what the deployments answer, the rest is what the tap caught. An event in both
// is applied once (the ledger).

#include "config/config.hpp"
#include "rebuild/source.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <set>

namespace plexus {
class Clock;
}
namespace plexus::transport {
class Amqp;
}

namespace plexus::rebuild {

class BrokerSource final : public Source {
 public:
  // `cancelled`: checked while waiting for answers (a cancelled rebuild stops waiting).
  BrokerSource(const config::Config& config, std::vector<std::string> types, std::string id,
               const Clock& clock, const std::atomic<bool>& cancelled);
  ~BrokerSource() override;
  const char* name() const override { return "broker"; }
  std::vector<Message> history(store::Transaction& tx, int limit) override;
  std::vector<Message> recent(store::Transaction& tx, int limit) override;
  std::vector<Message> missing(store::Transaction& tx, const std::string& handler,
                               int64_t sinceMs) override;
  int64_t lag(store::Transaction& tx) override;
  void committed() override { pending_.clear(); }
  void rewind() override;

 private:
  struct Answer {
    int64_t total = -1;
    int64_t received = 0;
    bool ended = false;
    int64_t lastHeardMs = 0;
  };
  void request();
  bool historyDone() const;
  // Up to `limit` events: first what a rewind gave back, then from the current queue (the first
  // within `waitMs`, the rest as they are there). Control messages update the answers. What is
  // taken is acked at once (so the prefetch never stalls a long switch) and kept until committed.
  std::vector<Message> take(int limit, int waitMs);

  const config::Config& config_;
  std::vector<std::string> types_;
  std::string id_;
  const Clock& clock_;
  const std::atomic<bool>& cancelled_;
  std::unique_ptr<transport::Amqp> control_;   // declares, the request, queue depths
  std::unique_ptr<transport::Amqp> consumer_;  // the reply queue, then the tap
  bool tapping_ = false;
  int64_t requestedAt_ = 0;
  std::map<std::string, Answer> answers_;  // by source deployment
  std::vector<Message> pending_;           // handed out, not committed yet
  std::vector<Message> again_;             // rewound: handed out first
};

// The broker's source when the host has one, else its own event store.
std::unique_ptr<Source> makeSource(const config::Config& config, std::vector<std::string> types,
                                   const std::string& id, const Clock& clock,
                                   const std::atomic<bool>& cancelled);

}  // namespace plexus::rebuild
