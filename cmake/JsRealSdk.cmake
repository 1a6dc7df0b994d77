# Pinned real PowerSync JS SDKs for the js-real client (issue 16): one small npm project per
# SDK/core pairing under engine/js/packages/<name>/ (package.json + package-lock.json with
# integrity hashes), installed at configure time with `npm ci --ignore-scripts` into the
# syncsim cache, keyed by the lock file's hash; never at test time (with the cache warm it
# works offline).  Each project also pins @sinonjs/fake-timers (the host's sim clock).
# Sets SYNCSIM_JS_REAL_SDK_DIRS to "<name>=<dir>;..." for the installed ones and
# SYNCSIM_NODE_EXECUTABLE; a missing npm/node leaves them empty and the js-real tests skip.
find_program(SYNCSIM_NODE_EXECUTABLE node)
set(SYNCSIM_JS_REAL_SDK_DIRS "")
file(GLOB _js_real_projects LIST_DIRECTORIES true "${CMAKE_SOURCE_DIR}/engine/js/packages/*")
list(SORT _js_real_projects)
foreach(_project IN LISTS _js_real_projects)
  if(NOT EXISTS "${_project}/package-lock.json")
    continue()
  endif()
  get_filename_component(_name "${_project}" NAME)
  file(SHA256 "${_project}/package-lock.json" _lock_sha)
  string(SUBSTRING "${_lock_sha}" 0 16 _lock_sha)
  set(_dir "${SYNCSIM_CACHE_DIR}/js-real-${_name}-${_lock_sha}")
  if(EXISTS "${_dir}/node_modules/.syncsim-installed")
    list(APPEND SYNCSIM_JS_REAL_SDK_DIRS "${_name}=${_dir}")
  elseif(NPM_EXECUTABLE)
    message(STATUS "syncsim: installing the pinned JS SDK ${_name} into ${_dir}")
    file(MAKE_DIRECTORY "${_dir}")
    file(COPY "${_project}/package.json" "${_project}/package-lock.json" DESTINATION "${_dir}")
    execute_process(COMMAND "${NPM_EXECUTABLE}" ci --ignore-scripts --no-audit --no-fund
                    WORKING_DIRECTORY "${_dir}" RESULT_VARIABLE _rc OUTPUT_QUIET
                    ERROR_VARIABLE _err)
    if(_rc EQUAL 0)
      file(TOUCH "${_dir}/node_modules/.syncsim-installed")
      list(APPEND SYNCSIM_JS_REAL_SDK_DIRS "${_name}=${_dir}")
    else()
      message(WARNING "syncsim: npm ci of engine/js/packages/${_name} failed (${_rc}); js-real "
                      "clients with that SDK are unavailable and their tests skip.\n${_err}")
    endif()
  endif()
endforeach()

# The host's load cache (engine/js/load_cache.mjs, issue 20 (e), js18): per installed project,
# the resolutions and V8 code caches its first realm needs, built here into the build dir
# with the host's Node flags (engine/js/js_host.cpp; V8 refuses a cache made under others;
# --hash-seed=1 makes the file byte-reproducible).
# The host runs without it when it is missing or stale (only cost changes).
set(SYNCSIM_JS_LOAD_CACHE_DIR "")
if(SYNCSIM_NODE_EXECUTABLE AND SYNCSIM_JS_REAL_SDK_DIRS)
  set(SYNCSIM_JS_LOAD_CACHE_DIR "${CMAKE_BINARY_DIR}/js-load-cache")
  file(GLOB _js_host_sources "${CMAKE_SOURCE_DIR}/engine/js/*.mjs")
  set(_js_load_caches "")
  foreach(_entry IN LISTS SYNCSIM_JS_REAL_SDK_DIRS)
    string(REGEX REPLACE "^[^=]*=" "" _dir "${_entry}")
    get_filename_component(_base "${_dir}" NAME)
    set(_out "${SYNCSIM_JS_LOAD_CACHE_DIR}/${_base}.bin")
    add_custom_command(OUTPUT "${_out}"
      COMMAND "${SYNCSIM_NODE_EXECUTABLE}" --experimental-vm-modules --expose-gc --no-opt
              --hash-seed=1 --no-warnings "${CMAKE_SOURCE_DIR}/engine/js/load_cache.mjs"
              "${_out}" "${_dir}"
      DEPENDS ${_js_host_sources} "${_dir}/node_modules/.syncsim-installed"
      COMMENT "js-real load cache for ${_base}" VERBATIM)
    list(APPEND _js_load_caches "${_out}")
  endforeach()
  add_custom_target(syncsim_js_load_cache ALL DEPENDS ${_js_load_caches})
endif()
