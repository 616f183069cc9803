#include "cli.hpp"
#include "desktop.hpp"

int main(int argc, char** argv) {
  if (attnviz::cli::isCommand(argc, argv)) return attnviz::cli::run(argc, argv);
  return attnviz::runDesktopApp(argc, argv);
}
