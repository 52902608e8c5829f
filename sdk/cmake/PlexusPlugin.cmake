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
