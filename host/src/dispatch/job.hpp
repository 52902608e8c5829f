#pragma once

#include "message/message.hpp"

#include <cstdint>
#include <string>

namespace plexus::dispatch {

// One message for one local handler.
struct Job {
  int64_t seq = 0;  // its plexus_deliveries row; 0 = straight from the transport, not stored
  std::string handler;
  Message message;            // message.attempt = this attempt
  int64_t firstFailedAt = 0;  // 0 = never failed
  bool stored() const { return seq != 0; }
};

}  // namespace plexus::dispatch
