#pragma once
// What the subcommands read off their inputs: the variant a checkpoint holds
// (unless --arch says) and the size of a [1, 3, H, W] .npy tensor, both checked
// before they become a spec name or an int; the largest input side; and that
// an --out folder does not hold the --input file under an output's name.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "cli/args.hpp"
#include "riformer/core/error.hpp"
#include "riformer/io/json.hpp"
#include "riformer/io/npy.hpp"
#include "riformer/models/riformer/checkpoint.hpp"
#include "riformer/models/riformer/spec.hpp"

namespace riformer::cli {

// Largest input side the commands take. A detection at 8192x8192 already peaked
// at 8 GB resident and took 2 minutes (2 cores, 24 GB); beyond it a run is more
// likely to exhaust a shared machine than to be what the user meant.
inline constexpr long kMaxInputSide = 8192;

// --arch if given; else the checkpoint's metadata "arch" if it names a published
// variant; else the variant its tensor shapes are.
[[nodiscard]] inline std::string checkpoint_arch(const Parsed& args, const std::string& path,
                                                 const BackboneCheckpointInfo& info) {
  if (args.has("arch")) return args.text("arch");
  if (!info.metadata_arch.empty() && info.metadata_arch != "custom") {
    const bool published = std::any_of(kBackboneSpecs.begin(), kBackboneSpecs.end(), [&](const NamedBackboneSpec& s) {
      return s.name == info.metadata_arch;
    });
    require(published, path, ": its metadata says arch ", json::quote(info.metadata_arch),
            ", which is not a RIFormer variant (s12, s24, s36, m36 or m48); pass --arch to choose one");
    return info.metadata_arch;
  }
  const std::string_view name = spec_name(info.spec);
  require(name != "custom", path, ": the backbone is a ", describe_spec(info.spec),
          ", not a published variant; declare a BackboneSpec for it in C++ (see README)");
  return std::string(name);
}

// Height and width of a .npy input, which must be [1, 3, H, W] with sides the
// CLI accepts and finite values (a NaN anywhere makes every output NaN).
[[nodiscard]] inline std::pair<int, int> npy_image_size(const NpyArray& x, const std::string& path,
                                                        long max_side = kMaxInputSide) {
  require(x.shape.size() == 4 && x.shape[0] == 1 && x.shape[1] == 3, path, ": expected shape [1, 3, H, W], got ",
          to_string(x.shape));
  require(x.shape[2] > 0 && x.shape[3] > 0 && x.shape[2] <= max_side && x.shape[3] <= max_side, path,
          ": shape ", to_string(x.shape), ": H and W must be in 1..", max_side);
  const auto bad = std::find_if(x.data.begin(), x.data.end(), [](float v) { return !std::isfinite(v); });
  if (bad != x.data.end()) fail(path, ": value ", bad - x.data.begin(), " is ", *bad, "; the input must be finite");
  return {static_cast<int>(x.shape[2]), static_cast<int>(x.shape[3])};
}

// Refuses, before anything is written, an --out folder where one of `outputs`
// (file names) is the --input file itself: dump --input out/p2.npy --out out.
// Each command passes the same list of names it writes from (kDumpFiles,
// kBackboneFiles), so the names checked are the names written.
inline void check_input_kept(const std::string& input, const std::filesystem::path& out_dir,
                             std::span<const std::string_view> outputs) {
  std::error_code ec;
  for (std::string_view name : outputs)
    if (std::filesystem::equivalent(input, out_dir / name, ec))
      fail("writing '", (out_dir / name).string(), "' would overwrite --input '", input, "'; choose another --out");
}

}  // namespace riformer::cli
