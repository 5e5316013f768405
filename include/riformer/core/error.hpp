#pragma once
// The one exception type of the library. Every failure a user can cause (bad file,
// bad key, bad shape, bad size) is reported as riformer::Error with a message that
// names what was wrong and where; nothing is reported by crashing or by asserting.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace riformer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <class... Parts>
[[nodiscard]] std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

// Throws riformer::Error with the parts streamed together.
template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  throw Error(detail::concat(std::forward<Parts>(parts)...));
}

// Throws riformer::Error unless `condition` holds.
template <class... Parts>
void require(bool condition, Parts&&... parts) {
  if (!condition) fail(std::forward<Parts>(parts)...);
}

}  // namespace riformer
