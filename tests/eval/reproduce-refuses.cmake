# `longform reproduce` refuses a config before any work: run as
#   cmake -DCLI=longform -DCONFIG=grid.json -DEXPECT=REGEX [-DABSENT=DIR] -P reproduce-refuses.cmake
# Passes when the command exits non-zero, says EXPECT, reports no cell (no "longform reproduce:"
# line) and, with ABSENT, has not created that folder (the grid's "out").
execute_process(COMMAND ${CLI} reproduce --config ${CONFIG} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(said "${out}${err}")
message("${said}")
if(rc EQUAL 0)
  message(FATAL_ERROR "exit code 0: the config should have been refused")
endif()
if(NOT said MATCHES "${EXPECT}")
  message(FATAL_ERROR "expected: ${EXPECT}")
endif()
if(said MATCHES "longform reproduce:")
  message(FATAL_ERROR "a cell was started or skipped before the config was refused")
endif()
if(DEFINED ABSENT AND EXISTS "${ABSENT}")
  message(FATAL_ERROR "${ABSENT} was created before the config was refused")
endif()
