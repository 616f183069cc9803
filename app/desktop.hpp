#pragma once

namespace attnviz {

// Opens the desktop app; argv may name --sample NAME, a session FILE.json, and automation flags.
int runDesktopApp(int argc, char** argv);

}  // namespace attnviz
