// The riformer command-line tool with every published variant (s12 ... m48).
#include "cli/main.hpp"

int main(int argc, char** argv) { return riformer::cli::main<riformer::PublishedSpecs>(argc, argv); }
