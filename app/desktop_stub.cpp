#include <iostream>

#include "cli.hpp"
#include "desktop.hpp"

namespace attnviz {

int runDesktopApp(int, char**) {
  std::cout << cli::usage();
  return 0;
}

}  // namespace attnviz
