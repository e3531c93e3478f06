#!/usr/bin/env bash
# Fetches Apache Kafka's broker jars (kafka_2.13 with its runtime dependencies and a log4j
# binding) from Maven Central into a cache directory, for the 'local' e2e service provider
# (src/harness/e2e/services/local.ts), which runs them with the machine's java (and runs this
# script itself when the jars are missing).
#
# Usage: bash .ci/kafka-jars.sh            prints the libs directory on its last line
# Env:   STREAMCHECK_KAFKA_VERSION         default 3.9.2 (newest 3.9.x on Maven Central)
#        STREAMCHECK_CACHE_DIR             default $HOME/.cache/streamcheck
#        STREAMCHECK_KAFKA_LIBS            the target directory (default <cache>/kafka-<version>/libs)
#
# Idempotent: a completed directory carries a marker file; a second run checks it and exits
# without starting Maven (no network). A run that fails leaves no marker and no half directory.
set -euo pipefail
exec </dev/null

kafka_version="${STREAMCHECK_KAFKA_VERSION:-3.9.2}"
cache_dir="${STREAMCHECK_CACHE_DIR:-$HOME/.cache/streamcheck}"
libs_dir="${STREAMCHECK_KAFKA_LIBS:-$cache_dir/kafka-$kafka_version/libs}"
marker="$libs_dir/.streamcheck-complete"
pom="$(cd "$(dirname "$0")" && pwd)/kafka-jars-pom.xml"

fail() { echo "kafka-jars: $*" >&2; exit 1; }

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$kafka_version" ]; then
  echo "kafka-jars: Kafka $kafka_version jars already in $libs_dir" >&2
  echo "$libs_dir"
  exit 0
fi

command -v mvn >/dev/null || fail "mvn not found on PATH (install Debian's maven package)"
command -v java >/dev/null || fail "java not found on PATH (install a JDK or JRE 17+)"
[ -f "$pom" ] || fail "missing $pom"

mkdir -p "$(dirname "$libs_dir")"
staging="$(mktemp -d "$(dirname "$libs_dir")/.libs-staging-XXXXXX")"
maven_log="$staging.maven.log"
cleanup() { rm -rf "$staging"; rm -f "$maven_log"; }
trap cleanup EXIT

echo "kafka-jars: fetching Kafka $kafka_version jars with Maven into $libs_dir" >&2
started_s=$(date +%s)
if ! mvn -B -q -f "$pom" \
      -Dkafka.version="$kafka_version" \
      dependency:copy-dependencies \
      -DincludeScope=runtime \
      -DoutputDirectory="$staging" >"$maven_log" 2>&1; then
  echo "kafka-jars: Maven failed; last lines of its output:" >&2
  tail -n 30 "$maven_log" >&2
  fail "could not fetch org.apache.kafka:kafka_2.13:$kafka_version (is Maven Central reachable?)"
fi

# Sanity: the classes the provider launches must be there.
ls "$staging"/kafka_2.13-"$kafka_version".jar >/dev/null 2>&1 || fail "kafka_2.13-$kafka_version.jar missing after Maven run"
ls "$staging"/kafka-clients-*.jar >/dev/null 2>&1 || fail "kafka-clients jar missing after Maven run"
ls "$staging"/slf4j-reload4j-*.jar >/dev/null 2>&1 || fail "slf4j-reload4j jar missing after Maven run"

echo "$kafka_version" >"$staging/.streamcheck-complete"
rm -rf "$libs_dir"
mv "$staging" "$libs_dir"
echo "kafka-jars: $(ls "$libs_dir"/*.jar | wc -l) jars in $(( $(date +%s) - started_s )) s" >&2
echo "$libs_dir"
