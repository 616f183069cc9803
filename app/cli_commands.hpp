#pragma once
// Subcommands implemented in their own files. Each takes the arguments after `attnviz`
// (args[0] is the command name), returns the exit code, and throws UsageError or Error.
#include <string>
#include <vector>

namespace attnviz::cli {

int cmdExport(const std::vector<std::string>& args);  // cli_export.cpp
int cmdBench(const std::vector<std::string>& args);   // cli_bench.cpp
int cmdModels(const std::vector<std::string>& args);        // cli_model.cpp
int cmdFetch(const std::vector<std::string>& args);         // cli_fetch.cpp
int cmdTokenize(const std::vector<std::string>& args);      // cli_model.cpp
int cmdComputeModel(const std::vector<std::string>& args);  // cli_model.cpp: compute --model
const char* modelComputeHelp();                              // cli_model.cpp
int cmdBenchModel(const std::vector<std::string>& args);    // cli_bench.cpp: bench --model
int cmdAttribute(const std::vector<std::string>& args);     // cli_attribute.cpp
int cmdGenerate(const std::vector<std::string>& args);      // cli_generate.cpp
int cmdPatch(const std::vector<std::string>& args);         // cli_patch.cpp

// Whether `flag` is among the arguments (for commands that switch to their model form).
bool hasFlag(const std::vector<std::string>& args, const std::string& flag);

}  // namespace attnviz::cli
