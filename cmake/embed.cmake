# attnviz_embed_files(TARGET NAME FILES...) turns text files (shaders) into a generated C++
# source with one string per file, so an installed binary needs no shaders/ directory.
# Lookup: attnviz::embedded::find(NAME_OF_FILE) from the generated header <NAME.hpp>.
function(attnviz_embed_files target name)
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/embedded")
  set(out_cpp "${out_dir}/${name}.cpp")
  set(out_hpp "${out_dir}/${name}.hpp")
  add_custom_command(
    OUTPUT "${out_cpp}" "${out_hpp}"
    COMMAND ${CMAKE_COMMAND} -DOUT_CPP=${out_cpp} -DOUT_HPP=${out_hpp} -DNAME=${name}
            "-DFILES=${ARGN}" -P "${PROJECT_SOURCE_DIR}/cmake/embed_run.cmake"
    DEPENDS ${ARGN} "${PROJECT_SOURCE_DIR}/cmake/embed_run.cmake"
    COMMENT "Embedding ${name}"
    VERBATIM)
  target_sources(${target} PRIVATE "${out_cpp}")
  target_include_directories(${target} PRIVATE "${out_dir}")
endfunction()
