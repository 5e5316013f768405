// doctest's runner and main(), compiled once and linked into every test
// binary. Its implementation costs GCC about 5 s at -O3 in each file that
// defines it; when each of the 31 test files did, a clean native build spent
// 890 s compiling, now 701 s (2026-12-02).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
