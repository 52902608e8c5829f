#pragma once
// The host loads every plugin from a private copy it owns (DESIGN.md §2): the checked file's bytes
// go into a sealed in-memory file (memfd), and the dynamic linker maps that copy. Writing over the
// original in place (printf > plugin.so, a plain cp) then changes nothing the process has mapped;
// without the copy, the kernel would page the new bytes into the running code.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace plexus::plugin {

// Copies the open, already trust-checked file `fd` into a new memfd named after `path`, checking
// the copy's SHA-256 against `sha256` when given (the bytes that load are the bytes that were
// hashed, even if the file changed after openTrusted), then seals it against any change. Returns
// the memfd (close-on-exec; the caller keeps it open for the life of the process) and the copy's
// SHA-256 in `copied`. Throws PluginError naming `path`.
int privateCopy(int fd, const std::string& path, const std::optional<std::string>& sha256,
                std::string& copied);

// Reads `fd` from its start to the end, handing each chunk to `each` (may be empty); returns the
// lowercase hex SHA-256 of what was read. Throws PluginError naming `path`.
std::string hashFd(int fd, const std::string& path,
                   const std::function<void(const char*, size_t)>& each = {});

}  // namespace plexus::plugin
