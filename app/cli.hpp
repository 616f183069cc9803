#pragma once

namespace attnviz::cli {

// True when argv names a subcommand or a global flag (--help, --version) rather than the app.
bool isCommand(int argc, char** argv);
// Runs a subcommand; returns the exit code (0 ok, 1 input or I/O error, 2 usage error).
int run(int argc, char** argv);
// The top-level help text.
const char* usage();

}  // namespace attnviz::cli
