#pragma once
// Dead letters (plexus_dead_letters): messages a handler rejected or gave up on, with the reason,
// kept until retried or discarded through the admin API.

#include "message/message.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace plexus::store::dead_letters {

struct DeadLetter {
  std::string id;       // the dead letter's own id (UUIDv7)
  std::string handler;  // "plugin/component", or "-" when no handler could take it
  Message message;
  std::string reason;
  int64_t attempts = 0;
  int64_t firstFailedAt = 0;
  int64_t lastFailedAt = 0;
};

void add(Transaction& tx, const DeadLetter& d);
// Newest first.
std::vector<DeadLetter> list(Transaction& tx, int limit);
std::optional<DeadLetter> get(Transaction& tx, const std::string& id);
bool remove(Transaction& tx, const std::string& id);

}  // namespace plexus::store::dead_letters
