#pragma once
// The JSON envelope of Plexus 0.1 ({"v":1,"id":...,"payload":{...}}): read tolerantly (unknown
// fields ignored, missing optional fields defaulted) so messages published by older hosts are
// still understood.

#include "message/message.hpp"

#include <optional>
#include <string>

namespace plexus {

std::string encodeJsonEnvelope(const Message& m);
// Returns nullopt (and sets `error`) for input that is not a usable envelope.
std::optional<Message> decodeJsonEnvelope(const std::string& text, std::string& error);

}  // namespace plexus
