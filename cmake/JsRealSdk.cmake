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
