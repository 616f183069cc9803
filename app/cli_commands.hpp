#pragma once
// Subcommands implemented in their own files. Each takes the arguments after `attnviz`
// (args[0] is the command name), returns the exit code, and throws UsageError or Error.
#include <string>
#include <vector>

namespace attnviz::cli {

int cmdExport(const std::vector<std::string>& args);  // cli_export.cpp
int cmdBench(const std::vector<std::string>& args);   // cli_bench.cpp

}  // namespace attnviz::cli
