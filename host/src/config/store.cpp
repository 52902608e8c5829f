#include "config/store.hpp"

#include "config/reader.hpp"

#include <nlohmann/json.hpp>

namespace plexus::config {

Store parseStore(const Reader& r, const nlohmann::json& s) {
  const std::string base = "/store";
  r.expectObject(s, base, {"kind", "url", "schema", "pool_size"}, {"kind"});
  Store out;
  // The store kinds built into the host (store/store.cpp registers their factories).
  // "postgres" is the 0.1 spelling of "postgresql", still accepted.
  out.kind = r.oneOf(s["kind"], base + "/kind", {"sqlite", "postgresql", "postgres"});
  if (out.kind == "postgres") out.kind = "postgresql";
  if (s.contains("url")) out.url = r.string(s["url"], base + "/url");
  if (s.contains("schema")) out.schema = r.string(s["schema"], base + "/schema");
  r.optionalInt(s, base, "pool_size", out.poolSize, 1, 256);
  if (out.url.empty()) r.fail(base + "/url", "must not be empty");
  return out;
}

}  // namespace plexus::config
