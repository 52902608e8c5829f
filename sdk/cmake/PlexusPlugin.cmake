# plexus_add_plugin(<name> SOURCES <src>... [LIBRARIES <lib>...] [OUTPUT_DIRECTORY <dir>])
#
# Builds a Plexus plugin: a MODULE library named plexus_<name>.so that exports only the entry point
# (hidden visibility) and has no undefined symbols (-Wl,--no-undefined), so a missing symbol fails
# at link time instead of at load time in production. A plugin whose sources are all C links
# plexus::abi (the ABI header alone); any C++ source links plexus::sdk.
# OUTPUT_DIRECTORY defaults to PLEXUS_PLUGIN_OUTPUT_DIRECTORY when set, else the current binary dir.
function(plexus_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES")
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "plexus_add_plugin(${name}): SOURCES is required")
  endif()
  set(sdk_target plexus::abi)
  foreach(src IN LISTS ARG_SOURCES)
    if(NOT src MATCHES "\\.[ch]$")
      set(sdk_target plexus::sdk)
    endif()
  endforeach()
  if(NOT TARGET ${sdk_target})
    message(FATAL_ERROR "plexus_add_plugin(${name}): ${sdk_target} is missing; C++ sources need "
      "find_package(plexus_sdk ... COMPONENTS CXX) (or no COMPONENTS at all)")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${sdk_target} ${ARG_LIBRARIES})
  if(NOT ARG_OUTPUT_DIRECTORY AND PLEXUS_PLUGIN_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${PLEXUS_PLUGIN_OUTPUT_DIRECTORY})
  endif()
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME plexus_${name}
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  target_link_options(${name} PRIVATE "LINKER:--no-undefined")
endfunction()

# plexus_add_plugin_test(<name> PLUGIN <plugin target or .so path> SOURCES <test.cpp>...
#                        [SCHEMAS <dir>...] [LIBRARIES <lib>...] [LABELS <label>...])
#
# One line per plugin test on the SQLite test host (plexus/testing/sqlite_host.hpp): a GoogleTest
# executable that links plexus::testing, knows the plugin file as PLEXUS_PLUGIN_PATH and the schema
# directories as PLEXUS_SCHEMA_DIRS (':'-separated, for SqliteTestHost::validateWith), and is
# registered with CTest.
function(plexus_add_plugin_test name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "PLUGIN" "SOURCES;SCHEMAS;LIBRARIES;LABELS")
  if(NOT ARG_PLUGIN OR NOT ARG_SOURCES)
    message(FATAL_ERROR "plexus_add_plugin_test(${name}): PLUGIN and SOURCES are required")
  endif()
  if(NOT TARGET plexus::testing)
    message(FATAL_ERROR "plexus_add_plugin_test(${name}): plexus::testing is missing; use "
      "find_package(plexus_sdk ... COMPONENTS ... testing) and install SQLite 3 (libsqlite3-dev)")
  endif()
  if(NOT TARGET GTest::gtest_main)
    find_package(GTest REQUIRED)
  endif()
  include(GoogleTest)
  if(TARGET ${ARG_PLUGIN})
    get_target_property(plugin_file ${ARG_PLUGIN} PLEXUS_PLUGIN_FILE)  # a Rust plugin
    if(NOT plugin_file)
      set(plugin_file $<TARGET_FILE:${ARG_PLUGIN}>)
    endif()
  else()
    set(plugin_file ${ARG_PLUGIN})
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE plexus::testing GTest::gtest_main ${ARG_LIBRARIES})
  string(JOIN ":" schema_dirs ${ARG_SCHEMAS})
  target_compile_definitions(${name} PRIVATE PLEXUS_PLUGIN_PATH="${plugin_file}"
    PLEXUS_SCHEMA_DIRS="${schema_dirs}")
  if(TARGET ${ARG_PLUGIN})
    add_dependencies(${name} ${ARG_PLUGIN})
  endif()
  if(ARG_LABELS)
    gtest_discover_tests(${name} TEST_PREFIX "${name}." PROPERTIES LABELS "${ARG_LABELS}"
      DISCOVERY_TIMEOUT 30)
  else()
    gtest_discover_tests(${name} TEST_PREFIX "${name}." DISCOVERY_TIMEOUT 30)
  endif()
endfunction()

# plexus_add_rust_plugin(<name> [CRATE_DIR <dir>] [OUTPUT_DIRECTORY <dir>])
#
# Builds a Rust plugin crate (crate-type "cdylib", library name plexus_<name>) with cargo into
# plexus_<name>.so, as target <name> (part of `all`). The crate is copied into the build tree, so
# Cargo.lock and target/ stay out of the sources. Where Debian's crate registry exists
# (/usr/share/cargo/registry, librust-*-dev packages), cargo runs offline against it; cargo and
# rustc are PLEXUS_CARGO and PLEXUS_RUSTC (default: Debian's /usr/bin ones, else the PATH's).
function(plexus_add_rust_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "CRATE_DIR;OUTPUT_DIRECTORY" "")
  if(NOT ARG_CRATE_DIR)
    set(ARG_CRATE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${PLEXUS_PLUGIN_OUTPUT_DIRECTORY})
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  find_program(PLEXUS_CARGO cargo PATHS /usr/bin NO_DEFAULT_PATH)
  find_program(PLEXUS_CARGO cargo)
  find_program(PLEXUS_RUSTC rustc PATHS /usr/bin NO_DEFAULT_PATH)
  find_program(PLEXUS_RUSTC rustc)
  if(NOT PLEXUS_CARGO OR NOT PLEXUS_RUSTC)
    message(FATAL_ERROR "plexus_add_rust_plugin(${name}): cargo and rustc are needed "
      "(Debian: apt-get install cargo rustc)")
  endif()
  set(crate ${CMAKE_CURRENT_BINARY_DIR}/${name}-crate)
  set(cargo_home ${CMAKE_CURRENT_BINARY_DIR}/${name}-cargo-home)
  set(env CARGO_HOME=${cargo_home} RUSTC=${PLEXUS_RUSTC})
  if(EXISTS /usr/share/cargo/registry)
    file(WRITE ${cargo_home}/config.toml "[source.crates-io]\nreplace-with = \"debian\"\n\n"
      "[source.debian]\ndirectory = \"/usr/share/cargo/registry\"\n\n[net]\noffline = true\n")
  else()
    set(env RUSTC=${PLEXUS_RUSTC})
  endif()
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${ARG_CRATE_DIR}/src/*.rs)
  set(so ${ARG_OUTPUT_DIRECTORY}/plexus_${name}.so)
  add_custom_command(
    OUTPUT ${so}
    COMMAND ${CMAKE_COMMAND} -E copy_directory ${ARG_CRATE_DIR}/src ${crate}/src
    COMMAND ${CMAKE_COMMAND} -E copy ${ARG_CRATE_DIR}/Cargo.toml ${crate}/Cargo.toml
    COMMAND ${CMAKE_COMMAND} -E env ${env}
      ${PLEXUS_CARGO} build --release --quiet --manifest-path ${crate}/Cargo.toml
    COMMAND ${CMAKE_COMMAND} -E copy ${crate}/target/release/libplexus_${name}.so ${so}
    DEPENDS ${sources} ${ARG_CRATE_DIR}/Cargo.toml
    COMMENT "cargo build ${name} (Rust plugin)"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${so})
  set_target_properties(${name} PROPERTIES PLEXUS_PLUGIN_FILE ${so} PLEXUS_RUST_CRATE ${crate})
endfunction()
