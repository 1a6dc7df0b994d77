# Re-checks every pinned third-party file on every build ("sha256-checked on every use",
# docs/architecture.md §3).  Invoked as: cmake -DFILES="path=sha,path=sha" -P verify_sha256.cmake
string(REPLACE "," ";" FILES "${FILES}")
foreach(entry IN LISTS FILES)
  string(REPLACE "=" ";" parts "${entry}")
  list(GET parts 0 path)
  list(GET parts 1 expected)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "syncsim: pinned file missing: ${path}\nRe-run cmake to fetch it.")
  endif()
  file(SHA256 "${path}" have)
  if(NOT have STREQUAL expected)
    message(FATAL_ERROR "syncsim: sha256 mismatch for ${path}\n  expected ${expected}\n"
                        "  got      ${have}\nDelete it and re-run cmake to re-extract it.")
  endif()
endforeach()
