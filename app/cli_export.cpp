#include "cli_commands.hpp"
#include "cli_common.hpp"

namespace attnviz::cli {

int cmdExport(const std::vector<std::string>&) { throw Error("export is not implemented yet"); }

}  // namespace attnviz::cli
