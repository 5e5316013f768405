#!/usr/bin/env bash
# Builds tests with AddressSanitizer and UndefinedBehaviorSanitizer (GCC, .bazelrc's --config=asan) and runs
# them: a read or write outside a heap or global buffer, a use after free, a leak, a signed overflow, a
# misaligned or null access, a shift out of range, a float converted to an integer type that cannot hold it
# fails the test that does it.
#
#   tools/test_sanitizers.sh                 every test (about 10 minutes on 2 cores)
#   tools/test_sanitizers.sh //tests/io/...  the Bazel targets given (CI: all but the model and CLI tests,
#                                            about 4 minutes)
#
# A network's working memory is one allocation carved into buffers: in this build a poisoned gap follows
# each (core/carved_span.hpp), so an overrun from one buffer into the next is reported as well.
# Not seen: overruns of local arrays (stack instrumentation is off; see .bazelrc).
set -uo pipefail
cd "$(dirname "$0")/.."
(($#)) || set -- //tests/...
RIFORMER_TEST_TARGETS="$*" exec tools/test.sh --config=asan
