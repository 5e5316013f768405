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
#include <functional>
#include <iostream>
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
  // Receives warnings (e.g. NaN/Inf values); when empty, warnings go to std::cerr.
  std::function<void(const std::string&)> warn;
};

class SafetensorsSource : public ParamSource {
 public:
  explicit SafetensorsSource(SafetensorsFile file, LoadOptions options = {})
      : file_(std::move(file)), options_(std::move(options)) {}
  explicit SafetensorsSource(const std::string& path, LoadOptions options = {})
      : SafetensorsSource(SafetensorsFile::open(path), std::move(options)) {}

  HostTensor get(const std::string& key, const Shape& shape) override {
    const TensorInfo* t = file_.find(key);
    if (t == nullptr) fail(file_.path(), ": missing key '", key, "' (expected shape ", to_string(shape), ")", hint(key));
    require(t->shape == shape, file_.path(), ": key '", key, "' has shape ", to_string(t->shape),
            " but the model expects ", to_string(shape));
    HostTensor out{t->shape, file_.read_float(*t)};
    const auto bad = std::count_if(out.data.begin(), out.data.end(), [](float v) { return !std::isfinite(v); });
    if (bad > 0) warn(detail::concat(file_.path(), ": ", key, " has ", bad, " NaN/Inf values"));
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
    for (std::size_t i = 0; i < extra.size() && i < 10; ++i) list += detail::concat(i ? ", '" : "'", extra[i], "'");
    if (extra.size() > 10) list += ", ...";
    fail(file_.path(), ": ", extra.size(), " unexpected key", extra.size() == 1 ? "" : "s", " under prefix '",
         options_.prefix, "' not used by the model: ", list,
         " (wrong model variant? set LoadOptions::allow_extra_keys to accept them)");
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

  void warn(const std::string& message) const {
    if (options_.warn)
      options_.warn(message);
    else
      std::cerr << "warning: " << message << "\n";
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
    for (std::size_t i = 0; i < found.size() && i < 3; ++i) s += detail::concat(i ? ", '" : "'", found[i], "'");
    if (found.size() > 3) s += detail::concat(" and ", found.size() - 3, " more");
    return detail::concat(s, ": wrong prefix? (LoadOptions::prefix is '", options_.prefix,
                          "'; find_prefix() can detect it)");
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
    for (std::size_t i = 0; i < prefixes.size(); ++i) list += detail::concat(i ? ", '" : "'", prefixes[i], "'");
    fail(file.path(), ": key '", anchor_suffix, "' occurs under several prefixes (", list,
         "); choose one explicitly with LoadOptions::prefix");
  }
  return prefixes.front();
}

}  // namespace riformer
