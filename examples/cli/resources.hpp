#pragma once
// What the subcommands ask of the machine: threads (--threads), a folder to
// write into (--out) and memory for an input size, each refused with a
// riformer::Error that says what to change, not an internal error.

#include <filesystem>
#include <new>
#include <string>
#include <system_error>
#include <thread>

#include "cli/args.hpp"
#include "riformer/core/error.hpp"

namespace riformer::cli {

// --threads N, at most the core count: the pool's workers spin while they wait,
// so with more threads than cores they take turns and a run gets hundreds of
// times slower (182 s instead of 0.35 s for 640x640 on 2 cores).
[[nodiscard]] inline int thread_count(const Parsed& args) {
  const unsigned cores = std::thread::hardware_concurrency();  // 0: unknown
  const long n = args.integer("threads", 1, 0, cores > 0 ? 1L << 20 : 1024);
  require(cores == 0 || n <= static_cast<long>(cores), "--threads ", n, ": this machine has ", cores,
          cores == 1 ? " core" : " cores", ", and more threads than cores only slow it down (0 means all cores)");
  return static_cast<int>(n);
}

// Creates the folder --out names (or one inside it). filesystem_error would
// reach the user as an internal error in the library's words; this names --out.
inline void create_output_folder(const std::filesystem::path& dir) {
  require(!dir.empty(), "--out is empty; give the folder to write into");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec && !std::filesystem::is_directory(dir, ec)) ec = std::make_error_code(std::errc::not_a_directory);
  require(!ec, "--out '", dir.string(), "': cannot create the output folder: ", ec.message());
}

// Runs `plan`, which sizes the network's working memory for a height x width
// input. An input too large for the machine shows as std::bad_alloc there;
// `option` is what the user can make smaller.
template <class Plan>
void plan_memory(int height, int width, const char* option, Plan&& plan) {
  try {
    plan();
  } catch (const std::bad_alloc&) {
    fail("not enough memory for a ", height, "x", width, " input; try a smaller ", option);
  }
}

}  // namespace riformer::cli
