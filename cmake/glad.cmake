# Generates the glad 2 loader (OpenGL 4.5 core + EGL 1.5) into the build tree at build time.
# --reproducible keeps glad offline: it uses the Khronos specs shipped with python3-glad.
find_program(GLAD_EXECUTABLE glad REQUIRED)
set(GLAD_OUT_DIR "${CMAKE_BINARY_DIR}/glad")
set(GLAD_SOURCES "${GLAD_OUT_DIR}/src/gl.c" "${GLAD_OUT_DIR}/src/egl.c")
add_custom_command(
  OUTPUT ${GLAD_SOURCES} "${GLAD_OUT_DIR}/include/glad/gl.h" "${GLAD_OUT_DIR}/include/glad/egl.h"
  COMMAND ${GLAD_EXECUTABLE} --quiet --reproducible --api "gl:core=4.5,egl=1.5"
          --extensions "GL_KHR_debug,EGL_EXT_platform_base,EGL_MESA_platform_surfaceless,EGL_EXT_platform_device,EGL_EXT_device_base,EGL_EXT_device_enumeration,EGL_EXT_device_query,EGL_KHR_surfaceless_context,EGL_KHR_create_context"
          --out-path "${GLAD_OUT_DIR}" c --loader
  COMMENT "Generating the glad OpenGL/EGL loader"
  VERBATIM)
add_library(attnviz_glad STATIC ${GLAD_SOURCES})
target_include_directories(attnviz_glad PUBLIC "${GLAD_OUT_DIR}/include")
target_link_libraries(attnviz_glad PUBLIC ${CMAKE_DL_LIBS})
set_target_properties(attnviz_glad PROPERTIES POSITION_INDEPENDENT_CODE ON)
