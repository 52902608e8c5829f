# Third-party packages, as Debian 12 ships them (see shared/NOTES-deps.md).
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)

# libpq directly for PostgreSQL (host/src/store/postgres.hpp says why not Poco's connector).
find_package(PostgreSQL REQUIRED)
find_package(Poco 1.11 REQUIRED COMPONENTS Foundation Net Util JSON Data DataSQLite
  Crypto JWT)  # JWT + Crypto: bearer tokens (http/auth)
find_package(Boost 1.74 REQUIRED)               # Boost.DLL is header-only
find_package(prometheus-cpp CONFIG REQUIRED)     # no version: Debian ships no version file

# Boost.DLL over std::filesystem: no Boost library at run time.
add_library(plexus_boost_dll INTERFACE)
target_link_libraries(plexus_boost_dll INTERFACE Boost::headers ${CMAKE_DL_LIBS})
target_compile_definitions(plexus_boost_dll INTERFACE BOOST_DLL_USE_STD_FS)
