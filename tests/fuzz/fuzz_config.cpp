// Config loader (host/src/config): any config text must be accepted or refused with a ConfigError
// (which names the file and the JSON path); any other exception would end the start with exit 70
// and no pointer to the bad key.
#include "config/config.hpp"
#include "fuzz_support.hpp"

#include <cstdint>
#include <exception>
#include <optional>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A fixed environment, so ${VAR} expansion is exercised both ways (set / unset, empty).
  const plexus::config::Env env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "PORT") return std::string("8080");
    if (name == "EMPTY") return std::string();
    if (name == "DIR") return std::string("plugins");
    if (name == "URL") return std::string("postgresql://u:p@127.0.0.1:5432/db");
    return std::nullopt;
  };
  try {
    const plexus::config::Config c = plexus::config::parse(text, "fuzz.json", env);
    FUZZ_CHECK(!c.service.empty(), "accepted a config without a service");
    FUZZ_CHECK(c.http.port >= 0 && c.http.port <= 65535, std::to_string(c.http.port));
    for (const auto& p : c.plugins) {
      FUZZ_CHECK(!p.library.empty() && !p.path.empty(), "plugin without a library");
      if (p.sha256) FUZZ_CHECK(p.sha256->size() == 64, *p.sha256);
    }
  } catch (const plexus::config::ConfigError& e) {
    FUZZ_CHECK(std::string(e.what()).rfind("fuzz.json: ", 0) == 0, e.what());
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("config parse threw a non-ConfigError: ") + e.what());
  }
  return 0;
}
