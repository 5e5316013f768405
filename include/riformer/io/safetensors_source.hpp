#pragma once
// A ParamSource over a safetensors file, i.e. how a model loads real weights. Beyond
// handing out tensors it checks the match between model and file in both directions:
// get() reports missing keys (with a hint when the key exists under another prefix,
// the usual cause) and shape mismatches; finish() reports keys inside the model's
// prefix that the model never asked for, since silently ignoring them is how a wrong
// architecture variant "loads" and then produces garbage. Keys outside the prefix
// (an optimizer state, the neck when loading only the backbone) are not ours to judge.

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "riformer/core/error.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/io/safetensors.hpp"

namespace riformer {

struct LoadOptions {
  // Keys the model asks for are prefix + name (the model's ParamScope adds the prefix);
  // only keys starting with it are checked by finish().
  std::string prefix;
  // Unused keys inside the prefix are an error unless this is set.
  bool allow_extra_keys = false;
  // NaN or Inf values are an error unless this is set: such a checkpoint (a
  // diverged run, an F16 export that overflowed) can only give NaN boxes or none.
  bool allow_non_finite = false;
};

class SafetensorsSource : public ParamSource {
 public:
  explicit SafetensorsSource(SafetensorsFile file, LoadOptions options = {})
      : file_(std::move(file)), options_(std::move(options)) {}
  explicit SafetensorsSource(const std::string& path, LoadOptions options = {})
      : SafetensorsSource(SafetensorsFile::open(path), std::move(options)) {}

  HostTensor get(const std::string& key, const Shape& shape) override {
    const TensorInfo* t = file_.find(key);
    if (t == nullptr)
      fail(file_.path(), ": missing key ", quoted(key), " (expected shape ", to_string(shape), ")", hint(key));
    require(t->shape == shape, file_.path(), ": key ", quoted(key), " has shape ", to_string(t->shape),
            " but the model expects ", to_string(shape));
    HostTensor out{t->shape, file_.read_float(*t)};
    if (!options_.allow_non_finite) check_finite(key, out.data);
    used_.insert(key);
    return out;
  }

  [[nodiscard]] bool contains(const std::string& key) const override { return file_.find(key) != nullptr; }
  [[nodiscard]] std::string describe() const override { return file_.path(); }

  // Call after the model has loaded: throws if keys under the prefix were not used.
  void finish() const {
    if (options_.allow_extra_keys) return;
    const std::vector<std::string> extra = unused_keys();
    if (extra.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < extra.size() && i < 10; ++i) list += detail::concat(i ? ", " : "", quoted(extra[i]));
    if (extra.size() > 10) list += ", ...";
    fail(file_.path(), ": ", extra.size(), " unexpected key", extra.size() == 1 ? "" : "s", " under prefix ",
         quoted(options_.prefix), " not used by the model: ", list,
         " (wrong model variant? LoadOptions::allow_extra_keys, or --allow-extra-keys on the command line,",
         " accepts them)");
  }

  // Keys under the prefix that the model has not (yet) asked for, excluding the
  // BatchNorm bookkeeping "num_batches_tracked", in file order.
  [[nodiscard]] std::vector<std::string> unused_keys() const {
    std::vector<std::string> out;
    for (const TensorInfo& t : file_.tensors())
      if (in_scope(t.name) && !used_.count(t.name) && !std::string_view(t.name).ends_with("num_batches_tracked"))
        out.push_back(t.name);
    return out;
  }

  // Keys outside the prefix, which this model neither uses nor checks, in file order.
  [[nodiscard]] std::vector<std::string> ignored_keys() const {
    std::vector<std::string> out;
    for (const TensorInfo& t : file_.tensors())
      if (!in_scope(t.name)) out.push_back(t.name);
    return out;
  }

  [[nodiscard]] const SafetensorsFile& file() const { return file_; }
  [[nodiscard]] const LoadOptions& options() const { return options_; }

 private:
  [[nodiscard]] bool in_scope(std::string_view key) const { return key.starts_with(options_.prefix); }

  // Keys come from the file: control characters in them are escaped, not sent to the terminal.
  [[nodiscard]] static std::string quoted(std::string_view key) { return safetensors_detail::quote_key(key); }

  void check_finite(const std::string& key, const std::vector<float>& values) const {
    const auto first = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
    if (first == values.end()) return;
    const auto bad = std::count_if(first, values.end(), [](float v) { return !std::isfinite(v); });
    fail(file_.path(), ": key ", quoted(key), " has ", bad, " NaN/Inf value", bad == 1 ? "" : "s", " of ",
         values.size(), " (the first, ", *first, ", at index ", first - values.begin(),
         "): a broken checkpoint (diverged training, or an F16 export that overflowed?)");
  }

  // For a missing key: the same name (the part after our prefix) under other prefixes.
  [[nodiscard]] std::string hint(const std::string& key) const {
    std::string_view name = key;
    if (name.starts_with(options_.prefix)) name.remove_prefix(options_.prefix.size());
    if (name.empty()) return "";
    const std::string dotted = detail::concat('.', name);
    std::vector<std::string> found;
    for (const TensorInfo& t : file_.tensors()) {
      const std::string_view k = t.name;
      if (k != key && (k == name || k.ends_with(dotted))) found.push_back(t.name);
    }
    if (found.empty()) return "";
    std::string s = "; the file has ";
    for (std::size_t i = 0; i < found.size() && i < 3; ++i) s += detail::concat(i ? ", " : "", quoted(found[i]));
    if (found.size() > 3) s += detail::concat(" and ", found.size() - 3, " more");
    return detail::concat(s, ": wrong prefix? (LoadOptions::prefix is ", quoted(options_.prefix),
                          "; find_prefix() can detect it)");
  }

  SafetensorsFile file_;
  LoadOptions options_;
  std::set<std::string, std::less<>> used_;
};

// The unique prefix p such that p + anchor_suffix is a key of `file`, where p is empty
// or ends with '.'; e.g. anchor "patch_embed.proj.weight" finds "", "backbone." or
// "model.0.". Throws if no key or several keys match.
[[nodiscard]] inline std::string find_prefix(const SafetensorsFile& file, std::string_view anchor_suffix) {
  require(!anchor_suffix.empty(), file.path(), ": find_prefix needs a non-empty anchor key");
  std::vector<std::string> prefixes;
  for (const TensorInfo& t : file.tensors()) {
    const std::string_view k = t.name;
    if (!k.ends_with(anchor_suffix)) continue;
    const std::string_view p = k.substr(0, k.size() - anchor_suffix.size());
    if (p.empty() || p.ends_with('.')) prefixes.emplace_back(p);
  }
  require(!prefixes.empty(), file.path(), ": no key ends with '", anchor_suffix,
          "' (not a checkpoint of this model, or a different architecture?)");
  if (prefixes.size() > 1) {
    std::string list;
    for (std::size_t i = 0; i < prefixes.size(); ++i)
      list += detail::concat(i ? ", " : "", safetensors_detail::quote_key(prefixes[i]));
    fail(file.path(), ": key '", anchor_suffix, "' occurs under several prefixes (", list,
         "); keep one model in the file, or choose one with LoadOptions::prefix in the API");
  }
  return prefixes.front();
}

}  // namespace riformer
