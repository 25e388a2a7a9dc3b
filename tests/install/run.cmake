# Stages an install of the build tree, then configures, builds and runs tests/install against it.
# Invoked by the `install_consumer` test with -DBUILD_DIR -DSOURCE_DIR -DWORK_DIR -DPython3_EXECUTABLE -DGENERATOR,
# and -DVIDEO: real footage the card's program pre-trains on for one step (when the file is there).
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/stage)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/stage -DPython3_EXECUTABLE=${Python3_EXECUTABLE}
    -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(DEFINED VIDEO AND EXISTS "${VIDEO}")
  run(${WORK_DIR}/build/card ${VIDEO} 1 2 112)
else()
  message(STATUS "card: built; not run (no footage at '${VIDEO}': run the fetch_test_videos test first)")
endif()
