#pragma once
// From a variant's name, known at run time (a command-line flag, a
// checkpoint's metadata), to the compile-time Backbone<S> that serves it.
// A binary instantiates only the variants of the list it dispatches over, so a
// variant-specific binary carries one forward pass, not five.

#include <string>
#include <string_view>

#include "riformer/core/error.hpp"
#include "riformer/io/json.hpp"
#include "riformer/models/riformer/spec.hpp"

namespace riformer {

template <BackboneSpec... Specs>
struct SpecList {
  static_assert(sizeof...(Specs) > 0, "SpecList: name at least one BackboneSpec");
  // "s12, s24, ..." for messages.
  [[nodiscard]] static std::string names() {
    std::string s;
    ((s += (s.empty() ? "" : ", ") + std::string(spec_name(Specs))), ...);
    return s;
  }
};

using PublishedSpecs = SpecList<kS12, kS24, kS36, kM36, kM48>;

namespace detail {
template <BackboneSpec First, BackboneSpec... Rest, class F>
auto dispatch_spec(std::string_view name, const std::string& names, F& f) -> decltype(f.template operator()<First>()) {
  if (spec_name(First) == name) return f.template operator()<First>();
  if constexpr (sizeof...(Rest) > 0) {
    return dispatch_spec<Rest...>(name, names, f);
  } else {
    // The name may come from a checkpoint's metadata: escaped, not sent to the terminal raw.
    fail("arch ", json::quote(name), " is not built into this program (it has: ", names, ")");
  }
}
template <BackboneSpec... Specs, class F>
decltype(auto) dispatch_list(SpecList<Specs...>, std::string_view name, F& f) {
  return dispatch_spec<Specs...>(name, SpecList<Specs...>::names(), f);
}
}  // namespace detail

// Calls f.template operator()<S>() with the spec of List named `name`, e.g.
//   with_backbone_spec("s12", [&]<BackboneSpec S>() { return load_backbone<S>(path); });
template <class List = PublishedSpecs, class F>
decltype(auto) with_backbone_spec(std::string_view name, F&& f) {
  return detail::dispatch_list(List{}, name, f);
}

}  // namespace riformer
