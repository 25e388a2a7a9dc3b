# Rebuilds TARGET, an object library whose unit is only preprocessed (-E) and lists every header it
# includes (-H), and fails when one of them is c10d's, Gloo's or NCCL's, or when no header was
# listed at all (the compiler did not run). The output is removed and ccache is bypassed first, so
# the compiler runs every time.
# usage: cmake -DBUILD_DIR=... -DTARGET=... -DOBJECT=<its object file> -DHEADER=<the header it includes> -P no_c10d.cmake
file(REMOVE "${OBJECT}")
set(ENV{CCACHE_DISABLE} 1)
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(APPEND out "\n${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building ${TARGET} failed:\n${out}")
endif()
# -H writes one line per header, dots for the depth, then its path.
string(REGEX MATCHALL "\n\\.+ [^\n]+" headers "${out}")
list(LENGTH headers count)
string(FIND "${out}" "${HEADER}" listed)
if(count EQUAL 0 OR listed EQUAL -1)
  message(FATAL_ERROR "the compiler listed no headers, or not ${HEADER}:\n${out}")
endif()
set(c10d)
foreach(h IN LISTS headers)
  if(h MATCHES "c10d|[Gg]loo|[Nn][Cc][Cc][Ll]")
    string(STRIP "${h}" h)
    list(APPEND c10d "${h}")
  endif()
endforeach()
if(c10d)
  list(JOIN c10d "\n" c10d)
  message(FATAL_ERROR "${HEADER} brings c10d, Gloo or NCCL headers (a single-process program should not parse them):\n${c10d}")
endif()
message(STATUS "${HEADER}: ${count} headers, none of c10d, Gloo or NCCL")
