# Shared build settings and helpers. Every module under src/ has a CMakeLists.txt that calls
# itx_add_module(); every test directory calls itx_add_test(); every fuzz target calls
# itx_add_fuzz().

add_compile_definitions(_GNU_SOURCE)

set(ITX_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
  -Wvla -Wconversion -Wno-sign-conversion -Wdouble-promotion)
if(ITX_WERROR)
  list(APPEND ITX_WARNINGS -Werror)
endif()

# Where tests find the models: $ITX_MODELS_DIR at configure time, else models/ in the tree.
if(DEFINED ENV{ITX_MODELS_DIR} AND NOT "$ENV{ITX_MODELS_DIR}" STREQUAL "")
  set(ITX_TEST_MODELS_DIR $ENV{ITX_MODELS_DIR})
else()
  set(ITX_TEST_MODELS_DIR ${CMAKE_SOURCE_DIR}/models)
endif()

# The modules linked into the itx binary, in dependency order (appended by itx_add_module).
set_property(GLOBAL PROPERTY ITX_MODULES "")

# itx_add_module(NAME SOURCES ... [DEPS module...] [LIBS lib...] [PKG pkgconfig-target...])
function(itx_add_module name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;LIBS" ${ARGN})
  add_library(itx_${name} STATIC ${A_SOURCES})
  target_include_directories(itx_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_compile_options(itx_${name} PRIVATE ${ITX_WARNINGS})
  foreach(d ${A_DEPS})
    target_link_libraries(itx_${name} PUBLIC itx_${d})
  endforeach()
  if(A_LIBS)
    target_link_libraries(itx_${name} PUBLIC ${A_LIBS})
  endif()
  set_property(GLOBAL APPEND PROPERTY ITX_MODULES itx_${name})
endfunction()

# itx_add_test(NAME SOURCES ... [LIBS ...] [LABELS ...] [ARGS ...] [TIMEOUT s])
# One executable per test file; the test runs from the build directory with ITX_SOURCE_DIR,
# ITX_BUILD_DIR and ITX_MODELS_DIR in its environment.
function(itx_add_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_compile_options(${name} PRIVATE ${ITX_WARNINGS})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  add_test(NAME ${name} COMMAND ${name} ${A_ARGS})
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "ITX_SOURCE_DIR=${CMAKE_SOURCE_DIR};ITX_BUILD_DIR=${CMAKE_BINARY_DIR};ITX_MODELS_DIR=${ITX_TEST_MODELS_DIR}")
endfunction()

# itx_add_script_test(NAME COMMAND ... [LABELS ...] [TIMEOUT s]): a test that is a script
# (node, sh) driving the built binaries.
function(itx_add_script_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "COMMAND;LABELS;DEPENDS" ${ARGN})
  add_test(NAME ${name} COMMAND ${A_COMMAND})
  if(NOT A_LABELS)
    set(A_LABELS integration)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "ITX_SOURCE_DIR=${CMAKE_SOURCE_DIR};ITX_BUILD_DIR=${CMAKE_BINARY_DIR};ITX_BIN=$<TARGET_FILE:itx>;ITX_MODELS_DIR=${ITX_TEST_MODELS_DIR}")
endfunction()

# itx_add_fuzz(NAME SOURCE file.c LIBS ... [CORPUS dir])
# With ITX_FUZZ=ON (clang) this builds a libFuzzer binary fuzz-NAME. In every build it also
# builds fuzz-NAME-replay, which runs the target over each file of fuzz/corpus/NAME, and
# registers that as a ctest with the label fuzz, so corpus files keep fixed bugs fixed.
function(itx_add_fuzz name)
  cmake_parse_arguments(A "" "SOURCE" "LIBS" ${ARGN})
  add_executable(fuzz-${name}-replay ${A_SOURCE} ${CMAKE_SOURCE_DIR}/fuzz/replay-main.c)
  target_compile_options(fuzz-${name}-replay PRIVATE ${ITX_WARNINGS})
  target_include_directories(fuzz-${name}-replay PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(fuzz-${name}-replay PRIVATE ${A_LIBS})
  if(ITX_TESTS)
    add_test(NAME fuzz-${name}-replay
      COMMAND fuzz-${name}-replay ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name})
    set_tests_properties(fuzz-${name}-replay PROPERTIES LABELS fuzz TIMEOUT 600
      ENVIRONMENT "ITX_SOURCE_DIR=${CMAKE_SOURCE_DIR};ITX_MODELS_DIR=${ITX_TEST_MODELS_DIR}")
  endif()
  if(ITX_FUZZ)
    add_executable(fuzz-${name} ${A_SOURCE})
    target_include_directories(fuzz-${name} PRIVATE ${CMAKE_SOURCE_DIR}/src)
    target_compile_options(fuzz-${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz-${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz-${name} PRIVATE ${A_LIBS})
  endif()
endfunction()
