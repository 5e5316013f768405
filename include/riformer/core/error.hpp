#pragma once
// The one exception type of the library. Every failure a user can cause (bad file,
// bad key, bad shape, bad size) is reported as riformer::Error with a message that
// names what was wrong and where; nothing is reported by crashing or by asserting.

#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

namespace riformer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
// The stream work of every message, out of line: one copy of the
// ostringstream's set-up and tear-down for the whole program, where a
// variadic function building its own stream put one (about 1.3 KB) into
// every distinct list of argument types, some 200 of them in the CLI.
[[gnu::noinline, gnu::cold]] inline std::string stream_parts(void (*write)(std::ostream&, const void*),
                                                              const void* parts) {
  std::ostringstream out;
  write(out, parts);
  return out.str();
}

template <class... Parts>
[[nodiscard]] std::string concat(const Parts&... parts) {
  const auto refs = std::tie(parts...);
  return stream_parts(
      [](std::ostream& out, const void* p) {
        std::apply([&](const Parts&... ps) { (out << ... << ps); }, *static_cast<const decltype(refs)*>(p));
      },
      &refs);
}
}  // namespace detail

// Throws riformer::Error with the parts streamed together.
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(detail::concat(parts...));
}

// Throws riformer::Error unless `condition` holds.
template <class... Parts>
void require(bool condition, const Parts&... parts) {
  if (!condition) fail(parts...);
}

}  // namespace riformer
