#pragma once
// How a message is stored: the same metadata columns in the outbox, the deliveries and the dead
// letters, and the payload as it came (DESIGN.md §3: the host never re-serialises it).

#include "message/message.hpp"

#include <plexus/sdk/types.hpp>

#include <string>
#include <vector>

namespace plexus::store {

// The columns, in the order appendMessage() binds and messageFrom() reads them.
extern const char* const kMessageColumns;
constexpr size_t kMessageColumnCount = 13;

void appendMessage(std::vector<Value>& params, const Message& m);
// The message in row[first .. first + kMessageColumnCount).
Message messageFrom(const Row& row, size_t first);

// "$from, $from+1, ..., $from+count-1"
std::string placeholders(size_t from, size_t count);
// `rows` parenthesised groups of `columns` markers from $1: "($1, $2), ($3, $4)".
std::string placeholderRows(size_t rows, size_t columns);

}  // namespace plexus::store
