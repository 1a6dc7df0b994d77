# Fuzz targets (issue 19): the scenario loader, the repro parser, the results reader and the
# report renderers (tests/fuzz/targets.cpp).  Included from tests/CMakeLists.txt.
#
# Every build: fuzz_replay_test (label quick, san) replays the committed corpora and the
# crashes kept as regressions (tests/fuzz/{corpus,regressions}/<target>/) through the same
# entry functions, so an input that once crashed keeps being checked by a normal build.
syncsim_test(fuzz_replay_test fuzz/replay_test.cpp fuzz/targets.cpp)
target_link_libraries(fuzz_replay_test PRIVATE syncsim_reports)

# -DSYNCSIM_FUZZ=ON (clang, a build directory of its own; flags in the top CMakeLists.txt):
# one libFuzzer executable per target and the `fuzz` ctest label, each target fuzzing for
# SYNCSIM_FUZZ_SECONDS (default 60) on a scratch corpus seeded from the committed one (and,
# for the scenario loader, from the catalog itself, so a new catalog file is a seed at once).
# A crash, leak, timeout or OOM fails the test and its input is copied into
# tests/fuzz/regressions/<target>/ (tests/fuzz/run_fuzzer.sh).  Not run by ./test.sh.
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
#         -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCSIM_FUZZ=ON -DSYNCSIM_WERROR=OFF
#   cmake --build build-fuzz -j2 --target fuzz_scenario fuzz_repro fuzz_results fuzz_reports
#   ctest --test-dir build-fuzz -L fuzz                       # 60 s each
#   SYNCSIM_FUZZ_RUNS=1000000 ctest --test-dir build-fuzz -L fuzz -V   # 10^6 executions each
if(SYNCSIM_FUZZ)
  # What the targets exercise, compiled on their own: the scenario loader (with the swarm
  # sections it validates), the results reader, the repro parser, and their link closure
  # through libraries -- not scenarios/world/ and the model/checks/explore parts a run
  # needs, which the fuzzers never call and which took clang most of the build.  The loader's
  # ValidationContext then comes from snapshot_validation_context (tests/fuzz/targets.hpp).
  set(src ${CMAKE_SOURCE_DIR})
  add_library(syncsim_fuzz_subjects STATIC
              ${src}/scenarios/format/scenario.cpp ${src}/scenarios/format/scenario_parse.cpp
              ${src}/scenarios/format/scenario_reader.cpp
              ${src}/scenarios/format/scenario_sections.cpp
              ${src}/scenarios/format/scenario_faults.cpp ${src}/scenarios/explore/swarm.cpp
              ${src}/scenarios/explore/world_swarm.cpp ${src}/scenarios/explore/world_dimensions.cpp
              ${src}/scenarios/explore/sometimes.cpp
              ${src}/scenarios/results/results.cpp ${src}/scenarios/results/results_shape.cpp
              ${src}/scenarios/results/repro.cpp ${src}/model/line_fault.cpp
              fuzz/targets.cpp)
  # UBSan's vptr check would need model::Service's typeinfo (model/service.cpp, not linked)
  # for the observation half of sometimes.cpp, which the fuzzers never call.
  set_source_files_properties(${src}/scenarios/explore/sometimes.cpp PROPERTIES COMPILE_OPTIONS
                              -fno-sanitize=vptr)
  set_source_files_properties(fuzz/targets.cpp PROPERTIES COMPILE_DEFINITIONS
    "SYNCSIM_FUZZ_NAMES_FILE=\"${CMAKE_CURRENT_SOURCE_DIR}/fuzz/validation_names.json\"")
  target_link_libraries(syncsim_fuzz_subjects PUBLIC syncsim_engine syncsim_util syncsim_reports
                        nlohmann_json::nlohmann_json fmt::fmt)
  syncsim_warnings(syncsim_fuzz_subjects)
  set(fuzz_seeds_scenario ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/scenario
                          ${CMAKE_SOURCE_DIR}/scenarios/catalog)
  foreach(target scenario repro results reports)
    add_executable(fuzz_${target} fuzz/libfuzzer_entry.cpp)
    target_compile_definitions(fuzz_${target} PRIVATE SYNCSIM_FUZZ_TARGET=${target})
    target_link_libraries(fuzz_${target} PRIVATE syncsim_fuzz_subjects)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    syncsim_warnings(fuzz_${target})
    set(seeds ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${target})
    if(DEFINED fuzz_seeds_${target})
      set(seeds ${fuzz_seeds_${target}})
    endif()
    add_test(NAME fuzz.${target}
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzzer.sh $<TARGET_FILE:fuzz_${target}>
                     ${CMAKE_BINARY_DIR}/fuzz-work/${target}
                     ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/regressions/${target}
                     ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/dict/${target}.dict ${seeds})
    # One at a time (RUN_SERIAL): each target gets the machine's core for its whole time.
    set_tests_properties(fuzz.${target} PROPERTIES LABELS fuzz TIMEOUT 7200 RUN_SERIAL ON
                         ENVIRONMENT "SYNCSIM_CORE_0_5_3=${CORE_0_5_3}")
  endforeach()
endif()
