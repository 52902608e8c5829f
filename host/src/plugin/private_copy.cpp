#include "plugin/private_copy.hpp"

#include "plugin/loader.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3+: executable memfd even where vm.memfd_noexec defaults to 1
#endif

namespace plexus::plugin {
namespace {

std::string errnoText() { return std::strerror(errno); }

int createMemfd(const std::string& path) {
  const std::string name = "plexus-plugin:" + std::filesystem::path(path).filename().string();
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL)  // a kernel before 6.3 does not know MFD_EXEC
    fd = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw PluginError(path, "cannot create the private in-memory copy: " + errnoText());
  return fd;
}

void writeAll(int out, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(out, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw PluginError(path, "cannot write the private copy: " + errnoText());
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

std::string hashFd(int fd, const std::string& path,
                   const std::function<void(const char*, size_t)>& each) {
  if (::lseek(fd, 0, SEEK_SET) != 0) throw PluginError(path, "cannot rewind: " + errnoText());
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw PluginError(path, "cannot read: " + errnoText());
    }
    if (n == 0) break;
    engine.update(buf, static_cast<size_t>(n));
    if (each) each(buf, static_cast<size_t>(n));
  }
  return Poco::DigestEngine::digestToHex(engine.digest());
}

int privateCopy(int fd, const std::string& path, const std::optional<std::string>& sha256,
                std::string& copied) {
  const int copy = createMemfd(path);
  try {
    copied = hashFd(fd, path, [&](const char* data, size_t n) { writeAll(copy, data, n, path); });
    if (sha256 && copied != *sha256) {
      throw PluginError(path, "sha256 mismatch: config pins " + *sha256 + ", file has " + copied +
                                  " (it changed while it was being copied)");
    }
    if (::fcntl(copy, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
      throw PluginError(path, "cannot seal the private copy: " + errnoText());
    return copy;
  } catch (...) {
    ::close(copy);
    throw;
  }
}

}  // namespace plexus::plugin
