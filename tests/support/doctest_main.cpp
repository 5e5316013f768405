// doctest's runner and main(), compiled once for every test binary. Its
// implementation costs GCC about 5 s at -O3 in each file that defines it; the
// 31 test files each did, 150 s of every build.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
