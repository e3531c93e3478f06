#!/usr/bin/env bash
# The consumer path: pack streamcheck, install the tarball into a fresh `npm init -y` project
# (as a user does), and check that the library imports, its types check, and the installed
# bin runs (help, run, a failing run whose Replay: command reproduces the failure, replay,
# selftest, a clear exit 2 for a missing optional package, a user's TypeScript module sharing
# streamcheck's module instance). Then, for each example folder given: copy it to a temporary
# folder, install the tarball, `npm test`, and `npx streamcheck run <its scenario>`.
#
#   bash .ci/consumer-smoke.sh [example-folder ...]
#
# An example's scenarios are its `streamcheck/*.scenario.ts` files, or the one its package.json
# names in "config": {"streamcheckScenario": "./path/to/scenario.ts"}; "streamcheckRunArgs"
# there adds arguments to `streamcheck run` (e.g. "--runs 50").
#
# Installs prefer npm's local cache (--prefer-offline); the registry is asked only for what the
# cache lacks. Prints `ok`/`FAIL` per check and `consumer smoke: N passed, M failed`; with
# CONSUMER_SMOKE_REPORT=<file> it also writes those counts in the shape of a vitest JSON
# report (numPassedTests, numFailedTests), for CI's `tests:` line. Exit 0 when every check passed.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d -t streamcheck-consumer-XXXXXX)"
trap 'rm -rf "$work"' EXIT
npm_quiet=(--no-audit --no-fund --prefer-offline --loglevel=error)

passed=0
failed=0
failures=()
record() { # record <name> <ok|FAIL> [detail]
  if [ "$2" = ok ]; then
    passed=$((passed + 1))
    echo "ok   $1"
  else
    failed=$((failed + 1))
    failures+=("$1")
    echo "FAIL $1"
    [ -n "${3:-}" ] && printf '%s\n' "$3" | tail -n 25 | sed 's/^/     /'
  fi
}

# expect <name> <expected exit code> <regex the output must match, or ''> -- command...
# Runs the command in the current folder; stdout and stderr together are the output.
expect() {
  local name="$1" want_code="$2" pattern="$3"
  shift 4
  local output code
  output="$("$@" </dev/null 2>&1)"
  code=$?
  if [ "$code" -ne "$want_code" ]; then
    record "$name" FAIL "exit $code, expected $want_code; output:
$output"
  elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$output"; then
    record "$name" FAIL "output does not match /$pattern/:
$output"
  else
    record "$name" ok
  fi
  last_output="$output"
}

finish() {
  echo "consumer smoke: ${passed} passed, ${failed} failed"
  if [ -n "${CONSUMER_SMOKE_REPORT:-}" ]; then
    node -e '
      const [file, passed, failed, ...names] = process.argv.slice(1);
      require("node:fs").writeFileSync(file, JSON.stringify({ numPassedTests: Number(passed), numFailedTests: Number(failed), testResults: [], failures: names }));
    ' "$CONSUMER_SMOKE_REPORT" "$passed" "$failed" "${failures[@]}"
  fi
  [ "$failed" -eq 0 ]
  exit
}

# --------------------------------------------------------------------------------------- pack
# `npm pack` runs `prepare`, which builds dist/.
pack_output="$(cd "$repo" && npm pack --pack-destination "$work" --loglevel=error 2>&1 </dev/null)"
tarball="$(ls "$work"/streamcheck-*.tgz 2>/dev/null | head -n 1)"
if [ -z "$tarball" ]; then
  record "npm pack" FAIL "$pack_output"
  finish
fi
record "npm pack ($(basename "$tarball"), $(du -k "$tarball" | cut -f1) kB)" ok

# --------------------------------------------------------------------------------------- fresh project
consumer="$work/consumer"
mkdir -p "$consumer"
cd "$consumer" || exit 1
npm init -y >/dev/null 2>&1
expect "npm install <tarball> into a fresh npm init -y project" 0 '' -- npm install "${npm_quiet[@]}" "$tarball"
for optional in kafkajs ioredis testcontainers @testcontainers/redis; do
  if [ -e "node_modules/$optional" ]; then record "optional peer $optional not installed with streamcheck" FAIL "node_modules/$optional exists"; fi
done

expect "import('streamcheck') exposes the public API" 0 '' -- \
  node -e "import('streamcheck').then((api) => { if (Object.keys(api).length === 0) throw new Error('no exports'); })"
expect "streamcheck/vitest resolves through the exports map" 0 'dist/src/vitest\.js' -- \
  node --input-type=module -e "console.log(import.meta.resolve('streamcheck/vitest'))"

# The shipped declarations type-check in a strict NodeNext project (with the repository's tsc
# and @types/node: a consumer brings their own). streamcheck/vitest's declarations need
# vitest's: the examples, which install vitest, type-check that entry point.
cat >types-check.ts <<'EOF'
import * as api from 'streamcheck';
export const surface: readonly unknown[] = [api];
EOF
expect "the .d.ts files type-check in a strict NodeNext consumer (skipLibCheck off)" 0 '' -- \
  node "$repo/node_modules/typescript/bin/tsc" --noEmit --strict --skipLibCheck false --module nodenext --moduleResolution nodenext \
  --target es2022 --typeRoots "$repo/node_modules/@types" --types node types-check.ts

# --------------------------------------------------------------------------------------- the bin
expect "npx streamcheck --help" 0 'Commands:' -- npx --no-install streamcheck --help
expect "npx streamcheck run --scenario odd-even-sum --runs 5" 0 'all held' -- npx --no-install streamcheck run --scenario odd-even-sum --runs 5
expect "npx streamcheck run --workers 2 (worker threads on the compiled code)" 0 'all held.*2 workers' -- npx --no-install streamcheck run --scenario odd-even-sum --runs 5 --workers 2
expect "npx streamcheck run with a planted bug fails with a Replay: command" 1 'Replay: npx streamcheck replay ' -- \
  npx --no-install streamcheck run --scenario odd-even-sum --bug incrby-sink --runs 50
token="$(grep -Eo 'Replay: npx streamcheck replay [^ ]+' <<<"$last_output" | head -n 1 | sed 's/^Replay: npx streamcheck replay //')"
if [ -n "$token" ]; then
  expect "npx streamcheck replay <token> reproduces the violation" 1 'exactly-once' -- npx --no-install streamcheck replay "$token"
else
  record "npx streamcheck replay <token> reproduces the violation" FAIL "no token in the failing run's output"
fi
expect "npx streamcheck replay with a bad token is bad input (exit 2)" 2 '^streamcheck: replay' -- npx --no-install streamcheck replay not-a-token
expect "npx streamcheck selftest --runs 5 runs every planted bug check" 0 'planted bug checks caught' -- \
  sh -c 'npx --no-install streamcheck selftest --runs 5; code=$?; [ "$code" -le 1 ]'
# Without kafkajs installed, an end-to-end run names the package to install (exit 2), before
# it tries to reach these (closed) ports.
expect "npx streamcheck e2e without kafkajs installed: exit 2 naming the package" 2 "missing optional dependency 'kafkajs'.*npm install --save-dev kafkajs" -- \
  env STREAMCHECK_KAFKA_BROKERS=127.0.0.1:9 STREAMCHECK_REDIS_URL=redis://127.0.0.1:9/0 npx --no-install streamcheck e2e --scenario odd-even-sum --cycles 1

# --------------------------------------------------------------------------------------- a user's module
# npm init -y writes "type": "commonjs": the user's .ts still loads as an ES module and shares
# streamcheck's module instance with the CLI (one END_OF_INPUT symbol).
mkdir -p scenarios
printf '%s\n' 'export class NamedSink { constructor(readonly name: string) {} }' >scenarios/sink.ts
cat >scenarios/user-scenario.ts <<'EOF'
import { END_OF_INPUT } from 'streamcheck';
import { NamedSink } from './sink.js';
export const endOfInput: typeof END_OF_INPUT = END_OF_INPUT;
export const sink = new NamedSink('user-sink');
EOF
printf '%s\n' "throw new Error('user scenario broke while loading');" >scenarios/throws.ts
cat >load-check.mjs <<'EOF'
import { END_OF_INPUT } from 'streamcheck';
// The CLI's loader (the lead's `run <module>` uses it); reached by file path, it is not public API.
import { importUserModule } from './node_modules/streamcheck/dist/src/cli/load-module.js';
const scenario = await importUserModule('scenarios/user-scenario.ts', process.cwd());
if (scenario.endOfInput !== END_OF_INPUT) throw new Error('the user module got a second copy of streamcheck (END_OF_INPUT differs)');
if (scenario.sink.name !== 'user-sink') throw new Error('the .js-suffixed import of a .ts sibling did not load');
await importUserModule('scenarios/throws.ts', process.cwd()).then(
  () => { throw new Error('a throwing module loaded'); },
  (error) => { if (!error.message.startsWith('scenario module scenarios/throws.ts failed to load') || !error.message.includes('user scenario broke while loading')) throw error; },
);
console.log('user module loaded, one streamcheck instance');
EOF
expect "a user's .ts module in a commonjs project loads and shares streamcheck's instance" 0 'one streamcheck instance' -- node load-check.mjs

# A user's sink suite through the CLI (public API only): it holds; its planted bug fails with
# a Replay: command naming the module, and that command reproduces the failure.
cat >scenarios/user-sink.scenario.ts <<'EOF'
import { RedisIdempotentSink, SimRedisServer, sinkSuite } from 'streamcheck';

/** PLANTED BUG: acknowledges a checkpoint without flushing its buffer. */
class AckBeforeFlushSink extends RedisIdempotentSink<string> {
  override snapshotState(): void {}
}

export const userSinkSuite = sinkSuite({
  name: 'user-redis-sink',
  description: 'a Redis sink written in the consumer project',
  semantic: 'exactly-once',
  writes: 'overwrite',
  bugs: [{ name: 'ack-before-flush', description: 'acknowledges a checkpoint without flushing its buffer' }],
  external: ({ env, bug }) => {
    const redis = new SimRedisServer(env);
    return {
      createWriter: ({ subtaskIndex }) => {
        const client = redis.client(`user-sink-${subtaskIndex}`);
        const entries = (key: string | number, value: string): Record<string, string> => ({ [`user:${key}`]: value });
        return bug === 'ack-before-flush' ? new AckBeforeFlushSink(client, entries) : new RedisIdempotentSink<string>(client, entries);
      },
      readBack: () => new Map(Object.entries(redis.stringSnapshot()).map(([key, value]) => [key.slice('user:'.length), value])),
    };
  },
});
EOF
expect "npx streamcheck run <a user's .ts sink suite> holds" 0 'all held' -- npx --no-install streamcheck run scenarios/user-sink.scenario.ts --runs 5
expect "npx streamcheck run <user module> --bug fails with a Replay: command" 1 'Replay: npx streamcheck replay user-redis-sink:' -- \
  npx --no-install streamcheck run scenarios/user-sink.scenario.ts --bug ack-before-flush --runs 50
token="$(grep -Eo 'Replay: npx streamcheck replay [^ ]+' <<<"$last_output" | head -n 1 | sed 's/^Replay: npx streamcheck replay //')"
if [ -n "$token" ]; then
  expect "npx streamcheck replay <user token> reproduces the violation" 1 'FAIL exactly-once violated in user-redis-sink' -- npx --no-install streamcheck replay "$token"
else
  record "npx streamcheck replay <user token> reproduces the violation" FAIL "no token in the failing run's output"
fi

# The issue's done-when, through vitest: a 20-line test of the same user sink through
# streamcheck/vitest passes for the correct sink, fails with a replay command for the buggy
# variant, and that command reproduces the failure from the CLI.
expect "npm install vitest into the consumer project" 0 '' -- npm install "${npm_quiet[@]}" --save-dev vitest@4.1.12
mkdir -p test
cat >test/user-sink.test.ts <<'EOF'
import { writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { describeScenario, expectScenarioToHold, StreamcheckFailure } from 'streamcheck/vitest';
import { userSinkSuite } from '../scenarios/user-sink.scenario.ts';

describeScenario(userSinkSuite, { runs: 10, failureFile: false });

test('the buggy variant fails with the shrunk plan and a replay command', async () => {
  const failure = await expectScenarioToHold(userSinkSuite, { bug: 'ack-before-flush', runs: 50, failureFile: false }).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(StreamcheckFailure);
  expect((failure as StreamcheckFailure).message).toMatch(/Fault plan[\s\S]*Replay: npx streamcheck replay user-redis-sink:/);
  writeFileSync('vitest-token.txt', (failure as StreamcheckFailure).token!);
});
EOF
expect "a vitest test through streamcheck/vitest: the sink holds, its buggy variant fails with a replay command" 0 'passed' -- npx --no-install vitest run test/user-sink.test.ts
if [ -s vitest-token.txt ]; then
  expect "the replay command a vitest failure printed reproduces it from the CLI" 1 'FAIL exactly-once violated in user-redis-sink' -- npx --no-install streamcheck replay "$(cat vitest-token.txt)"
else
  record "the replay command a vitest failure printed reproduces it from the CLI" FAIL "the vitest test wrote no token"
fi

# --------------------------------------------------------------------------------------- examples
for example in "$@"; do
  source_dir="$(cd "$repo" && cd "$example" 2>/dev/null && pwd)"
  name="example $example"
  if [ -z "$source_dir" ] || [ ! -f "$source_dir/package.json" ]; then
    record "$name: a folder with a package.json" FAIL "not found from $repo"
    continue
  fi
  copy="$work/examples/$(basename "$source_dir")"
  mkdir -p "$copy"
  (cd "$source_dir" && tar --exclude=./node_modules -cf - .) | (cd "$copy" && tar -xf -)
  cd "$copy" || continue
  # The example depends on streamcheck by file:../.., which means nothing in the copy: it gets the tarball.
  npm pkg delete dependencies.streamcheck devDependencies.streamcheck >/dev/null 2>&1
  expect "$name: npm install <tarball>" 0 '' -- npm install "${npm_quiet[@]}" --save-dev "$tarball"
  expect "$name: npm test" 0 '' -- npm test
  declared="$(node -p 'require("./package.json").config?.streamcheckScenario ?? ""')"
  run_args="$(node -p 'require("./package.json").config?.streamcheckRunArgs ?? ""')"
  if [ -n "$declared" ]; then scenarios=("$declared"); else mapfile -t scenarios < <(ls streamcheck/*.scenario.ts 2>/dev/null); fi
  if [ "${#scenarios[@]}" -eq 0 ]; then
    record "$name: npx streamcheck run <its scenario>" FAIL 'no streamcheck/*.scenario.ts and no config.streamcheckScenario in package.json'
  fi
  for scenario in "${scenarios[@]}"; do
    # shellcheck disable=SC2086 # the run arguments are words by design
    expect "$name: npx streamcheck run $scenario $run_args" 0 'all held' -- npx --no-install streamcheck run "$scenario" $run_args
  done
done

finish
