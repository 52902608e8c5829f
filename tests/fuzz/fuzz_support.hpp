#pragma once
// Shared by the fuzz targets: an invariant check that aborts (so libFuzzer and the corpus replay
// both report the input), and the fake-host answers the route targets use.

#include <cstdio>
#include <cstdlib>
#include <string>

// A broken invariant is a finding: print it and abort, which libFuzzer saves as a crash input.
#define FUZZ_CHECK(cond, what)                                                                     \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                                     \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)
