// The riformer command-line tool carrying RIFormer-S12 only: a variant-specific
// binary, as an embedded deployment would build it.
#include "cli/main.hpp"

int main(int argc, char** argv) { return riformer::cli::main<riformer::SpecList<riformer::kS12>>(argc, argv); }
