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
    set(plugin_file $<TARGET_FILE:${ARG_PLUGIN}>)
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
