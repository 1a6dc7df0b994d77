# Fuzz targets (issue 19): the scenario loader, the repro parser, the results reader and the
# report renderers (tests/fuzz/targets.cpp).  Included from tests/CMakeLists.txt.
#
# Every build: fuzz_replay_test (label quick, san) replays the committed corpora and the
# crashes kept as regressions (tests/fuzz/{corpus,regressions}/<target>/) through the same
# entry functions, so an input that once crashed keeps being checked by a normal build.
syncsim_test(fuzz_replay_test fuzz/replay_test.cpp fuzz/targets.cpp)
target_link_libraries(fuzz_replay_test PRIVATE syncsim_reports)

# -DSYNCSIM_FUZZ=ON (clang, a build directory of its own): one libFuzzer executable per
# target and the `fuzz` ctest label, each target running SYNCSIM_FUZZ_SECONDS (default 60)
# on a scratch copy of its corpus.  Not run by ./test.sh.
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
#         -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCSIM_FUZZ=ON
#   cmake --build build-fuzz -j2 --target fuzz_scenario fuzz_repro fuzz_results fuzz_reports
#   ctest --test-dir build-fuzz -L fuzz
# NOT YET WORKING: with clang 14 and libstdc++ 12 the sim layer does not compile (no C++20
# coroutines for boost::asio::awaitable in sim/loop.hpp), and these targets link
# syncsim_scenarios, which pulls it in.  The way out (what the reliability review did): build
# the fuzz executables from the loader/reader/report sources only, with a ValidationContext
# dumped from a normal build instead of scenarios::validation_context().
if(SYNCSIM_FUZZ)
  foreach(target scenario repro results reports)
    add_executable(fuzz_${target} fuzz/libfuzzer_entry.cpp fuzz/targets.cpp)
    target_compile_definitions(fuzz_${target} PRIVATE SYNCSIM_FUZZ_TARGET=${target})
    target_link_libraries(fuzz_${target} PRIVATE syncsim_scenarios syncsim_reports)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    syncsim_warnings(fuzz_${target})
    add_test(NAME fuzz.${target}
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzzer.sh $<TARGET_FILE:fuzz_${target}>
                     ${CMAKE_BINARY_DIR}/fuzz-work/${target}
                     ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${target}
                     ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/dict/${target}.dict)
    set_tests_properties(fuzz.${target} PROPERTIES LABELS fuzz TIMEOUT 1800
                         ENVIRONMENT "SYNCSIM_CORE_0_5_3=${CORE_0_5_3}")
  endforeach()
endif()
