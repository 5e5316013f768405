#pragma once
// Bounded file reading shared by the readers of untrusted files (safetensors,
// npy): sizes only of regular files (a FIFO or a device could block or never
// end), and reads that either get every byte asked for or throw naming the file.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>

#include "riformer/core/error.hpp"

namespace riformer::file_detail {

// The file size, or an Error naming the file if it is missing or not a regular file.
[[nodiscard]] inline std::uint64_t regular_file_size(const std::string& path) {
  require(!path.empty(), "a file name is empty");
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  // Not found (ENOENT, ENOTDIR) is the usual mistake, a wrong name; any other error (a symlink loop, a folder
  // without permission) has its own reason, and "does it exist?" would send the user looking for the wrong thing.
  if (ec && status.type() != std::filesystem::file_type::not_found) fail(path, ": cannot open file: ", ec.message());
  if (!std::filesystem::exists(status)) fail(path, ": cannot open file (does it exist?)");
  require(std::filesystem::is_regular_file(status), path, ": not a regular file");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, ": cannot determine the file size: ", ec.message());
  return size;
}

// Reads exactly `n` bytes at `offset` into `dst`, or throws naming `what`.
inline void read_exact(std::ifstream& in, const std::string& path, std::uint64_t offset, char* dst, std::uint64_t n,
                       std::string_view what) {
  require(offset <= static_cast<std::uint64_t>(std::numeric_limits<std::streamoff>::max()), path,
          ": offset out of range reading ", what);
  in.seekg(static_cast<std::streamoff>(offset));
  if (n > 0) in.read(dst, static_cast<std::streamsize>(n));
  if (!in || (n > 0 && static_cast<std::uint64_t>(in.gcount()) != n))
    fail(path, ": could not read ", n, " bytes at offset ", offset, " (", what, "): file truncated or unreadable");
}

}  // namespace riformer::file_detail
