#pragma once
// The `riformer` command-line tool: a table of subcommands, each with its own
// options and help. Templated on the list of variants the binary carries, so
// `riformer` runs all five and `riformer_s12` only S12 (and is that much smaller).

#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <string_view>

#include "cli/args.hpp"
#include "cli/backbone_command.hpp"
#include "cli/bench_command.hpp"
#include "cli/classify_command.hpp"
#include "cli/detect_command.hpp"
#include "cli/dump_command.hpp"
#include "riformer/core/error.hpp"

namespace riformer::cli {

struct Command {
  const char* name;
  const char* summary;
  const std::vector<Option>& (*options)();
  int (*run)(const Parsed&);
};

template <class List>
int main(int argc, char** argv) {
  const Command commands[] = {
      {"detect", kDetectSummary, detect_options, run_detect<List>},
      {"dump", kDumpSummary, dump_options, run_dump<List>},
      {"bench", kBenchSummary, bench_options, run_bench<List>},
      {"backbone", kBackboneSummary, backbone_options, run_backbone<List>},
      {"classify", kClassifySummary, classify_options, run_classify<List>},
  };
  auto print_overview = [&](std::FILE* to) {
    std::fprintf(to, "usage: riformer COMMAND [options]   (riformer COMMAND --help for its options)\n\ncommands:\n");
    for (const Command& c : commands) std::fprintf(to, "  %-10s %s\n", c.name, c.summary);
    std::fprintf(to, "\nvariants in this binary: %s\n", List::names().c_str());
  };
  // Output that could not be written (a full disk, /dev/full) is a failure, not exit 0. (A closed
  // pipe ends the process by SIGPIPE before this, as for any Unix filter.)
  auto after_output = [](const char* who, int code) {
    std::cout.flush();
    if (std::fflush(stdout) == 0 && !std::ferror(stdout) && std::cout.good()) return code;
    std::cerr << who << ": error: cannot write to standard output\n";
    return 2;
  };
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    print_overview(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : after_output("riformer", 0);
  }
  for (const Command& c : commands) {
    if (std::string_view(argv[1]) != c.name) continue;
    for (int i = 2; i < argc; ++i)
      if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
        std::cout << usage(c.name, c.summary, c.options());
        return after_output("riformer", 0);
      }
    try {
      const int code = c.run(parse(c.options(), argc, argv, 2));
      return after_output(("riformer " + std::string(c.name)).c_str(), code);
    } catch (const riformer::Error& e) {
      std::cerr << "riformer " << c.name << ": error: " << e.what() << "\n";
      return 2;
    } catch (const std::bad_alloc&) {  // the commands that know the input size say it; this is the rest
      std::cerr << "riformer " << c.name << ": error: out of memory\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "riformer " << c.name << ": internal error: " << e.what() << "\n";
      return 3;
    }
  }
  std::fprintf(stderr, "riformer: unknown command '%s'\n\n", argv[1]);
  print_overview(stderr);
  return 2;
}

}  // namespace riformer::cli
