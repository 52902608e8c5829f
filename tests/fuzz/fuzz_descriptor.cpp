// Plugin descriptor validation (host/src/plugin/loader.cpp, validateDescriptor): whatever a
// plugin's entry point returns (sizes, counts, null pointers, names, methods, migrations) must be
// accepted as a consistent LoadedPlugin or refused with a PluginError, without reading outside
// what the descriptor covers. The descriptor is built from the fuzz bytes.
#include "fuzz_support.hpp"
#include "plugin/loader.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <set>
#include <string>
#include <vector>

namespace {

// Consumes the input front to back; past the end everything reads as zero.
class Bytes {
 public:
  Bytes(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  uint8_t u8() { return i_ < n_ ? p_[i_++] : 0; }
  uint32_t u32() { return u8() | (u8() << 8) | (u8() << 16) | (static_cast<uint32_t>(u8()) << 24); }
  // Length byte (0-31; 0xFF = null pointer) then that many bytes (embedded NULs allowed).
  const char* str(std::deque<std::string>& keep) {
    const uint8_t len = u8();
    if (len == 0xFF) return nullptr;
    std::string s;
    for (uint8_t k = 0; k < len % 32; ++k) s.push_back(static_cast<char>(u8()));
    keep.push_back(std::move(s));
    return keep.back().c_str();
  }
  // Mostly one of the meaningful values, sometimes anything.
  const char* pick(std::deque<std::string>& keep, std::initializer_list<const char*> choices) {
    const uint8_t sel = u8();
    if (sel < choices.size()) return choices.begin()[sel];
    return str(keep);
  }
  uint32_t size(uint32_t full, uint32_t minimum) {
    switch (u8() % 4) {
      case 0:
        return full;
      case 1:
        return minimum;
      case 2:
        return u8();
      default:
        return u32();
    }
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t i_ = 0;
};

void* create(const plexus_host_api*, plexus_host*) { return nullptr; }
plexus_status handleMsg(void*, plexus_call*, const plexus_message*) { return PLEXUS_OK; }
plexus_status handleReq(void*, plexus_call*, const plexus_request*) { return PLEXUS_OK; }
void destroy(void*) {}

template <class T>
void fns(Bytes& b, T& d) {
  const uint8_t bits = b.u8();
  d.create = (bits & 1) ? nullptr : &create;
  d.destroy = (bits & 4) ? nullptr : &destroy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes b(data, size);
  std::deque<std::string> strings;  // deque: c_str() pointers stay valid as it grows
  // Every struct is allocated at its full size, as a real plugin's static data would be; the
  // struct_size field may still claim less (or more).
  std::deque<plexus_receptor_desc> receptors;
  std::deque<plexus_perspective_desc> perspectives;
  std::deque<plexus_route_desc> routes;
  std::deque<plexus_migration_desc> migrations;
  std::deque<std::vector<const char*>> typeLists;
  std::vector<const plexus_receptor_desc*> rp;
  std::vector<const plexus_perspective_desc*> pp;
  std::vector<const plexus_route_desc*> tp;
  std::vector<const plexus_migration_desc*> mp;

  plexus_plugin_desc d{};
  d.struct_size = b.size(sizeof d, offsetof(plexus_plugin_desc, version) + sizeof(d.version));
  const uint8_t abi = b.u8();
  d.abi_major = abi < 200 ? PLEXUS_ABI_MAJOR : static_cast<uint16_t>(b.u8());
  d.abi_minor = static_cast<uint16_t>(b.u8() % 4);
  d.name = b.str(strings);
  d.version = b.str(strings);

  auto typeList = [&](size_t& count) -> const char* const* {
    count = b.u8() % 4;
    if (b.u8() == 0xFF) return nullptr;
    typeLists.emplace_back();
    for (size_t i = 0; i < count; ++i) typeLists.back().push_back(b.str(strings));
    return typeLists.back().data();
  };
  const size_t nr = b.u8() % 4, np = b.u8() % 4, nt = b.u8() % 4, nm = b.u8() % 4;
  for (size_t i = 0; i < nr; ++i) {
    plexus_receptor_desc r{};
    r.struct_size = b.size(sizeof r, offsetof(plexus_receptor_desc, destroy) + sizeof(void*));
    r.name = b.str(strings);
    r.message_types = typeList(r.message_type_count);
    fns(b, r);
    r.handle = (b.u8() & 1) ? nullptr : &handleMsg;
    receptors.push_back(r);
    rp.push_back(b.u8() == 0xFF ? nullptr : &receptors.back());
  }
  for (size_t i = 0; i < np; ++i) {
    plexus_perspective_desc p{};
    p.struct_size = b.size(sizeof p, offsetof(plexus_perspective_desc, destroy) + sizeof(void*));
    p.name = b.str(strings);
    p.event_types = typeList(p.event_type_count);
    fns(b, p);
    p.handle = (b.u8() & 1) ? nullptr : &handleMsg;
    perspectives.push_back(p);
    pp.push_back(b.u8() == 0xFF ? nullptr : &perspectives.back());
  }
  for (size_t i = 0; i < nt; ++i) {
    plexus_route_desc r{};
    r.struct_size = b.size(sizeof r, offsetof(plexus_route_desc, destroy) + sizeof(void*));
    r.name = b.str(strings);
    r.method = b.pick(strings, {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"});
    r.path = b.pick(strings, {"/api/x", "/api/{id}", "/"});
    fns(b, r);
    r.handle = (b.u8() & 1) ? nullptr : &handleReq;
    routes.push_back(r);
    tp.push_back(b.u8() == 0xFF ? nullptr : &routes.back());
  }
  for (size_t i = 0; i < nm; ++i) {
    plexus_migration_desc m{};
    m.struct_size = b.size(sizeof m, offsetof(plexus_migration_desc, sql) + sizeof(void*));
    m.version = b.u8() % 4;
    m.name = b.str(strings);
    m.dialect = b.pick(strings, {"postgresql", "sqlite", "any"});
    m.sql = b.pick(strings, {"CREATE TABLE t (x INT)"});
    migrations.push_back(m);
    mp.push_back(b.u8() == 0xFF ? nullptr : &migrations.back());
  }
  // Counts match the arrays (a plugin lying about a count is outside what any host can check),
  // but an array may be null with a non-zero count.
  const uint8_t nulls = b.u8();
  d.receptors = (nulls & 1) ? nullptr : rp.data();
  d.receptor_count = nr;
  d.perspectives = (nulls & 2) ? nullptr : pp.data();
  d.perspective_count = np;
  d.routes = (nulls & 4) ? nullptr : tp.data();
  d.route_count = nt;
  d.migrations = (nulls & 8) ? nullptr : mp.data();
  d.migration_count = nm;

  // PLEXUS_FUZZ_VERBOSE=1 shows what each input got (to check a corpus reaches both outcomes).
  static const bool verbose = std::getenv("PLEXUS_FUZZ_VERBOSE") != nullptr;
  try {
    const auto p = plexus::plugin::validateDescriptor("fuzz.so", &d);
    FUZZ_CHECK(p != nullptr, "null result without an error");
    FUZZ_CHECK(!p->name.empty() && !p->version.empty(), "accepted a plugin without name/version");
    FUZZ_CHECK(p->abiMajor == PLEXUS_ABI_MAJOR && p->abiMinor <= PLEXUS_ABI_MINOR,
               std::to_string(p->abiMajor) + "." + std::to_string(p->abiMinor));
    std::set<std::string> names;
    auto unique = [&](const char* n) {
      FUZZ_CHECK(n != nullptr && n[0] != '\0', "accepted a component without a name");
      FUZZ_CHECK(names.insert(n).second, std::string("accepted a duplicate name ") + n);
    };
    FUZZ_CHECK(p->receptors.size() == p->receptorTypes.size(), "receptor types not parallel");
    for (const auto& r : p->receptors) {
      unique(r.name);
      FUZZ_CHECK(r.struct_size == sizeof r && r.create && r.handle && r.destroy, "receptor");
    }
    for (const auto& t : p->receptorTypes) FUZZ_CHECK(!t.empty(), "receptor with no types");
    for (const auto& q : p->perspectives) unique(q.name);
    for (const auto& r : p->routes) {
      unique(r.name);
      const std::string m = r.method;
      FUZZ_CHECK(m == "GET" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE", m);
      FUZZ_CHECK(r.path != nullptr && r.path[0] == '/', "route path");
    }
    for (const auto& m : p->migrations) FUZZ_CHECK(m.version > 0 && m.sql && m.sql[0], "migration");
    if (verbose) {
      std::fprintf(stderr,
                   "  accepted %s: %zu receptors, %zu perspectives, %zu routes, %zu migrations\n",
                   p->name.c_str(), p->receptors.size(), p->perspectives.size(), p->routes.size(),
                   p->migrations.size());
    }
  } catch (const plexus::plugin::PluginError& e) {
    FUZZ_CHECK(!e.reason().empty() && e.path() == "fuzz.so", e.what());
    if (verbose) std::fprintf(stderr, "  refused: %s\n", e.reason().c_str());
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("validation threw a non-PluginError: ") + e.what());
  }
  return 0;
}
