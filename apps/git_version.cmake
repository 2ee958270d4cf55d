# Writes OUT (a header defining CRUCIBLE_GIT_COMMIT) from the checkout at
# SOURCE_DIR; the file is replaced only when the text changes, so a build
# recompiles the version only after a new commit.
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
                OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit "unknown")
elseif(changes)
  set(commit "${commit}+changes")
endif()
file(WRITE "${OUT}.new" "#define CRUCIBLE_GIT_COMMIT \"${commit}\"\n")
configure_file("${OUT}.new" "${OUT}" COPYONLY)
