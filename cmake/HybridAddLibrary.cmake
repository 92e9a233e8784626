# hybrid_add_library(name SOURCES...
#                    [DEPENDS tablegen targets...] [LINK_LIBS libs...])
#
# Our libraries are shared objects linked against libMLIR.so only. Shared,
# not static, so that a pass or dialect plugin loaded into hybrid-opt sees the
# same dialect registration (TypeIDs) as the tool instead of a second copy.
function(hybrid_add_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;LINK_LIBS" ${ARGN})
  add_library(${name} SHARED ${ARG_UNPARSED_ARGUMENTS})
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK_LIBS} MLIR LLVM)
endfunction()
