# private_headers.cmake - fail when a module other than OWNER includes
# the headers of LIBRARY (HEADER_REGEX matches the text after
# "#include <"). Run with cmake -P on every build; ROOT is the source
# tree. Reusable by store/ (libgit2) and publishers/ (libcurl).
foreach(var ROOT LIBRARY HEADER_REGEX OWNER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "private_headers.cmake: ${var} is not set")
  endif()
endforeach()
set(bad "")
foreach(module common events store publishers worker)
  if(module STREQUAL OWNER)
    continue()
  endif()
  file(GLOB_RECURSE files ${ROOT}/${module}/*.c ${ROOT}/${module}/*.h)
  foreach(f ${files})
    file(STRINGS ${f} hits REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]${HEADER_REGEX}")
    if(hits)
      file(RELATIVE_PATH rel ${ROOT} ${f})
      list(APPEND bad ${rel})
    endif()
  endforeach()
endforeach()
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "${LIBRARY} is private to ${OWNER}/ (use its "
    "headers there); included by:\n  ${text}")
endif()
