# Reliability of the desktop app (issue 7), included from tests/gui/CMakeLists.txt after ${xvfb}.
# Unsaved work survives a SIGKILL and a clean quit leaves no recovery file (recovery_test.py).
add_test(NAME gui_recovery COMMAND ${xvfb} ${Python3_EXECUTABLE}
         "${CMAKE_CURRENT_SOURCE_DIR}/recovery_test.py" $<TARGET_FILE:attnviz> "${CMAKE_CURRENT_BINARY_DIR}")
set_tests_properties(gui_recovery PROPERTIES TIMEOUT 240 LABELS gui)
# A one-minute soak: flat memory and no GL errors (KHR_debug). CI's longer run is
# scripts/soak.sh --minutes 10 (see the script's header).
add_test(NAME gui_soak COMMAND ${xvfb} "${PROJECT_SOURCE_DIR}/scripts/soak.sh" --seconds 60
         --app $<TARGET_FILE:attnviz> --out "${CMAKE_CURRENT_BINARY_DIR}/soak")
set_tests_properties(gui_soak PROPERTIES TIMEOUT 240 LABELS "gui;soak")
# Loading a sample or opening a session over unsaved edits asks Save / Don't save / Cancel.
add_test(NAME gui_replace COMMAND ${xvfb} ${NUMPY_PYTHON}
         "${CMAKE_CURRENT_SOURCE_DIR}/replace_test.py" $<TARGET_FILE:attnviz> "${CMAKE_CURRENT_BINARY_DIR}")
set_tests_properties(gui_replace PROPERTIES TIMEOUT 180 LABELS gui)
# Issue 20: a file name with \n, \r, ESC[2J or bytes that are not UTF-8 stays one escaped line in
# the status bar and on stderr.
add_test(NAME gui_status_line COMMAND ${xvfb} ${Python3_EXECUTABLE}
         "${CMAKE_CURRENT_SOURCE_DIR}/status_line_test.py" $<TARGET_FILE:attnviz> "${CMAKE_CURRENT_BINARY_DIR}")
set_tests_properties(gui_status_line PROPERTIES TIMEOUT 180 LABELS gui)
