# private_headers.cmake - fail when a module includes the headers of a
# library that belongs to another module. Run with cmake -P on every
# build (the target events_private_headers, see events/CMakeLists.txt);
# ROOT is the source tree.
#
# The libraries' headers sit in /usr/include, where any file can reach
# them whatever the link says, so linking them PRIVATE is not enough:
# this keeps Redis in events/, git in store/ and HTTP in publishers/.
# Only the modules are checked. tests/, fuzz/ and bench/ may include a
# module's library: store's unit tests build and inspect repositories
# with libgit2 itself, independently of the code under test.
if(NOT DEFINED ROOT)
  message(FATAL_ERROR "private_headers.cmake: ROOT is not set")
endif()
# One rule a line: library|owning module|regex on the text after
# "#include <" (or ").
set(rules
  "hiredis|events|hiredis[/.]"
  "libgit2|store|git2[/.]"
  "libcurl|publishers|curl/"
)
set(failed "")
foreach(rule ${rules})
  string(REPLACE "|" ";" fields "${rule}")
  list(GET fields 0 library)
  list(GET fields 1 owner)
  list(GET fields 2 regex)
  set(bad "")
  foreach(module common events store publishers worker)
    if(module STREQUAL owner)
      continue()
    endif()
    file(GLOB_RECURSE files ${ROOT}/${module}/*.c ${ROOT}/${module}/*.h)
    foreach(f ${files})
      file(STRINGS ${f} hits REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]${regex}")
      if(hits)
        file(RELATIVE_PATH rel ${ROOT} ${f})
        list(APPEND bad ${rel})
      endif()
    endforeach()
  endforeach()
  if(bad)
    list(JOIN bad "\n  " text)
    string(APPEND failed "${library} is private to ${owner}/ (use its "
      "headers there); included by:\n  ${text}\n")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "${failed}")
endif()
