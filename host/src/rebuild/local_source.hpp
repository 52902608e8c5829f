#pragma once
// The events of this deployment's own event store (plexus_events), read through the shadow's
// store: the history by (stream, version), then what was appended since, by the time it was
// appended, with a margin for transactions that committed late (the ledger drops repeats).

#include "rebuild/source.hpp"

#include <set>

namespace plexus {
class Clock;
}

namespace plexus::rebuild {

class LocalSource final : public Source {
 public:
  // How far back each catch-up round looks before the previous one began.
  static constexpr int64_t kMarginMs = 60000;

  LocalSource(std::vector<std::string> types, const Clock& clock);
  const char* name() const override { return "local"; }
  std::vector<Message> history(store::Transaction& tx, int limit) override;
  std::vector<Message> recent(store::Transaction& tx, int limit) override;
  std::vector<Message> missing(store::Transaction& tx, const std::string& handler,
                               int64_t sinceMs) override;
  int64_t lag(store::Transaction& tx) override;
  void committed() override;
  void rewind() override;

 private:
  // `cursor`: the history's read position moves to the last row.
  std::vector<Message> select(store::Transaction& tx, const std::string& where,
                              std::vector<Value> params, int limit, bool cursor = false);
  std::vector<std::string> types_;
  const Clock& clock_;
  std::string afterStream_;
  int64_t afterVersion_ = 0;
  std::string committedStream_;  // the history cursor at the last commit
  int64_t committedVersion_ = 0;
  int64_t historyStartedAt_ = 0;  // 0 until the history is read
  int64_t roundStartedAt_ = 0;
};

}  // namespace plexus::rebuild
