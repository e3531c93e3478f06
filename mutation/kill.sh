#!/bin/sh
# Stryker's kill command (see stryker.config.mjs beside this file for why this one).
# A mutant is killed when this exits non-zero: a short run of the main job (every
# scenario in every mode and backend, plus the regression corpus). With
# MUTATION_SELFTEST=1, selftest runs after it too (every planted bug still caught and
# shrunk): three times the cost of a surviving mutant. Output is dropped: Stryker reads
# only the exit code.
# Stage two (MUTATION_MAIN=0 MUTATION_TESTS="<test files>", set by run-per-file.mjs --survivors):
# the main job already let the mutant live, so only the file's unit tests and selftest run.
set -e
if [ -n "${MUTATION_TESTS:-}" ]; then npx vitest run --bail 1 $MUTATION_TESTS >/dev/null 2>&1; fi
if [ "${MUTATION_MAIN:-1}" = 1 ]; then node src/cli/bin.mjs run --suite --runs "${MUTATION_RUNS:-20}" --determinism failing --workers 1 --shard 1/1 >/dev/null 2>&1; fi
if [ "${MUTATION_SELFTEST:-0}" = 1 ]; then node src/cli/bin.mjs selftest >/dev/null 2>&1; fi
