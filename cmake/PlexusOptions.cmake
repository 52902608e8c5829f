# Warning and sanitizer settings as INTERFACE targets: link them, never set them directory-wide.
option(PLEXUS_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
option(PLEXUS_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

add_library(plexus_warnings INTERFACE)
add_library(plexus::warnings ALIAS plexus_warnings)
target_compile_options(plexus_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wcast-align
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>
  $<$<BOOL:${PLEXUS_WARNINGS_AS_ERRORS}>:-Werror>)

add_library(plexus_sanitizers INTERFACE)
add_library(plexus::sanitizers ALIAS plexus_sanitizers)
if(PLEXUS_SANITIZE)
  target_compile_options(plexus_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(plexus_sanitizers INTERFACE -fsanitize=address,undefined)
endif()

# Everything the project itself compiles links this one.
add_library(plexus_options INTERFACE)
add_library(plexus::options ALIAS plexus_options)
target_link_libraries(plexus_options INTERFACE plexus_warnings plexus_sanitizers)
