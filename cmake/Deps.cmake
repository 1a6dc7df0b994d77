# Third-party artefacts that Debian cannot give us (docs/architecture.md §3): fetched at configure
# time with `npm pack` into a cache outside the build tree, one file extracted into the
# build tree, sha256-checked here and again on every build (cmake/verify_sha256.cmake).
# Nothing third-party is committed.  With the cache warm everything works offline.

set(SYNCSIM_CACHE_DIR "$ENV{SYNCSIM_CACHE_DIR}")
if(NOT SYNCSIM_CACHE_DIR)
  set(SYNCSIM_CACHE_DIR "$ENV{HOME}/.cache/syncsim")
endif()
file(MAKE_DIRECTORY "${SYNCSIM_CACHE_DIR}")
set(SYNCSIM_DEPS_DIR "${CMAKE_BINARY_DIR}/_deps")
file(MAKE_DIRECTORY "${SYNCSIM_DEPS_DIR}")

find_program(NPM_EXECUTABLE npm)

# syncsim_pinned_file(<out var> PACKAGE <name@version> MEMBER <path in tarball>
#                     SHA256 <hex> DEST <file name under _deps/>)
function(syncsim_pinned_file out_var)
  cmake_parse_arguments(P "" "PACKAGE;MEMBER;SHA256;DEST" "" ${ARGN})
  string(REGEX REPLACE "^@" "" tar_name "${P_PACKAGE}")
  string(REPLACE "/" "-" tar_name "${tar_name}")
  string(REPLACE "@" "-" tar_name "${tar_name}")
  set(tarball "${SYNCSIM_CACHE_DIR}/${tar_name}.tgz")
  set(retry "cd '${SYNCSIM_CACHE_DIR}' && npm pack '${P_PACKAGE}'")
  if(NOT EXISTS "${tarball}")
    if(NOT NPM_EXECUTABLE)
      message(FATAL_ERROR "syncsim: npm not found, cannot fetch ${P_PACKAGE}.\n"
                          "Install it (apt-get install -y npm) and retry: ${retry}")
    endif()
    message(STATUS "syncsim: fetching ${P_PACKAGE} into ${SYNCSIM_CACHE_DIR}")
    execute_process(COMMAND "${NPM_EXECUTABLE}" pack "${P_PACKAGE}" --silent
                    WORKING_DIRECTORY "${SYNCSIM_CACHE_DIR}"
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0 OR NOT EXISTS "${tarball}")
      message(FATAL_ERROR "syncsim: failed to fetch ${P_PACKAGE} (npm exit ${rc}).\n${err}\n"
                          "Expected ${tarball} with member ${P_MEMBER} of sha256 ${P_SHA256}.\n"
                          "Retry with: ${retry}")
    endif()
  endif()
  set(dest "${SYNCSIM_DEPS_DIR}/${P_DEST}")
  if(EXISTS "${dest}")
    file(SHA256 "${dest}" have)
  endif()
  if(NOT EXISTS "${dest}" OR NOT have STREQUAL P_SHA256)
    string(MAKE_C_IDENTIFIER "${P_DEST}" tmp_name)
    set(tmp "${SYNCSIM_DEPS_DIR}/_extract_${tmp_name}")
    file(REMOVE_RECURSE "${tmp}")
    file(MAKE_DIRECTORY "${tmp}")
    execute_process(COMMAND ${CMAKE_COMMAND} -E tar xzf "${tarball}" "package/${P_MEMBER}"
                    WORKING_DIRECTORY "${tmp}" RESULT_VARIABLE rc ERROR_VARIABLE err)
    if(NOT rc EQUAL 0 OR NOT EXISTS "${tmp}/package/${P_MEMBER}")
      message(FATAL_ERROR "syncsim: ${tarball} has no member package/${P_MEMBER} (${err}).\n"
                          "Delete it and retry: rm '${tarball}' && ${retry}")
    endif()
    file(SHA256 "${tmp}/package/${P_MEMBER}" have)
    if(NOT have STREQUAL P_SHA256)
      message(FATAL_ERROR "syncsim: sha256 mismatch for ${P_PACKAGE}:${P_MEMBER}\n"
                          "  expected ${P_SHA256}\n  got      ${have}\n"
                          "The cached tarball is wrong or the registry changed. Delete it and "
                          "retry: rm '${tarball}' && ${retry}")
    endif()
    get_filename_component(dest_dir "${dest}" DIRECTORY)
    file(MAKE_DIRECTORY "${dest_dir}")
    file(RENAME "${tmp}/package/${P_MEMBER}" "${dest}")
    file(REMOVE_RECURSE "${tmp}")
  endif()
  set(${out_var} "${dest}" PARENT_SCOPE)
  set_property(GLOBAL APPEND PROPERTY SYNCSIM_PINNED_FILES "${dest}=${P_SHA256}")
endfunction()

# SQLite 3.54.1 amalgamation from better-sqlite3 (Debian has 3.40; the core needs 3.44+).
set(SQLITE_SHA256 75a4760a7b9727a4c4c877aec92eacf39e52a8f2921ce00bd33be6d3a8e8e254)
syncsim_pinned_file(SQLITE_C PACKAGE better-sqlite3@13.2.0 MEMBER deps/sqlite3/sqlite3.c
                    SHA256 ${SQLITE_SHA256} DEST sqlite/sqlite3.c)
# The headers are pinned by the same tarball; their hashes are recorded here too.
syncsim_pinned_file(SQLITE_H PACKAGE better-sqlite3@13.2.0 MEMBER deps/sqlite3/sqlite3.h
                    SHA256 d6c84557261893439b341d2e6c35187ae3ea24fbfd843ad94616f72d89242b8c
                    DEST sqlite/sqlite3.h)
syncsim_pinned_file(SQLITE_EXT_H PACKAGE better-sqlite3@13.2.0 MEMBER deps/sqlite3/sqlite3ext.h
                    SHA256 48963abfefb41ac329ef9d706acb5eadba952a99a748285c9ded6b5e0942721b
                    DEST sqlite/sqlite3ext.h)

# Released core extension binaries (docs/architecture.md §3).  Adding a version is one
# syncsim_core() line here plus one line in engine/core_registry.cpp.
#
# syncsim_core(<version> PACKAGE <name@version> MEMBER <path in tarball> SHA256 <hex>)
# pins the file as core/libpowersync-<version>.so, sets CORE_<v> (path) and
# CORE_<v>_SHA256 with <v> = the version with dots as underscores (CORE_0_5_3), and
# records the compile definitions SYNCSIM_CORE_<v>_PATH / SYNCSIM_CORE_<v>_SHA256 that
# CMakeLists.txt gives to engine/core_registry.cpp.
function(syncsim_core version)
  cmake_parse_arguments(C "" "PACKAGE;MEMBER;SHA256" "" ${ARGN})
  string(MAKE_C_IDENTIFIER "CORE_${version}" id)
  syncsim_pinned_file(path PACKAGE ${C_PACKAGE} MEMBER ${C_MEMBER} SHA256 ${C_SHA256}
                      DEST core/libpowersync-${version}.so)
  set(${id} "${path}" PARENT_SCOPE)
  set(${id}_SHA256 ${C_SHA256} PARENT_SCOPE)
  set_property(GLOBAL APPEND PROPERTY SYNCSIM_CORE_DEFINITIONS
               "SYNCSIM_${id}_PATH=\"${path}\"" "SYNCSIM_${id}_SHA256=\"${C_SHA256}\"")
endfunction()

syncsim_core(0.5.3 PACKAGE @powersync/node@1.1.0 MEMBER lib/libpowersync_x64.linux.so
             SHA256 a6de0c79151ad6243ca18633f0df10bed32b692095fdf0f01ebdac6eb01d2edf)
syncsim_core(0.5.2 PACKAGE @powersync/node@1.0.0 MEMBER lib/libpowersync_x64.linux.so
             SHA256 e3288d3e1e2bfc5ccee4fb66d5afb9c691e7da7010b3a561892857a922659819)
syncsim_core(0.4.12 PACKAGE @powersync/node@0.18.8 MEMBER lib/libpowersync_x64.linux.so
             SHA256 c15d5a069200c823c95435bbad38a9dc12743deca42b30b0c40557b2bc32ac5d)
syncsim_core(0.4.11 PACKAGE @powersync/node@0.17.1 MEMBER lib/libpowersync_x64.linux.so
             SHA256 f07c22893888162bc6d193a0771859f7b44a78f41d6763905f8fe2007b3f5429)
syncsim_core(0.4.6 PACKAGE @powersync/node@0.14.3 MEMBER lib/libpowersync_x64.so
             SHA256 e9d78620d69d3cf7d57353891fe0bf85b79d326b42c4669b9500b9e610388f76)

# Mermaid 11.17.2 (docs/architecture.md §3), for the report checks only: a test renders every Mermaid
# block of a Markdown report with it in headless Chromium, loaded from disk.
syncsim_pinned_file(MERMAID_JS PACKAGE mermaid@11.17.2 MEMBER dist/mermaid.min.js
                    SHA256 581ed7d74bd9048d0e3a91363927d72ef22942d7722546b27f7cc29e35390eb8
                    DEST mermaid/mermaid.min.js)
