#include "cli_commands.hpp"
#include "cli_common.hpp"

namespace attnviz::cli {

int cmdBench(const std::vector<std::string>&) { throw Error("bench is not implemented yet"); }

}  // namespace attnviz::cli
