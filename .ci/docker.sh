#!/usr/bin/env bash
# A Docker engine for the Testcontainers path: `start` installs Debian's docker.io when
# dockerd is missing, starts dockerd when no engine answers (published ports bound to
# 127.0.0.1 only), and waits until `docker info` answers; `stop` stops only a dockerd this
# script started. No stdin. Measured here: overlay2 storage and the default bridge work
# as root; install about 40 s, start about 3 s.
set -euo pipefail
PID_FILE=/var/run/streamcheck-dockerd.pid
LOG_FILE=${STREAMCHECK_DOCKERD_LOG:-/tmp/streamcheck-dockerd.log}
START_TIMEOUT_S=60

engine_answers() { docker info >/dev/null 2>&1; }

start() {
  if engine_answers; then echo "docker: an engine already answers"; return 0; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker: installing docker.io (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null
    apt-get install -y -qq docker.io </dev/null >/dev/null
  fi
  echo "docker: starting dockerd (published ports on 127.0.0.1)"
  nohup dockerd --ip 127.0.0.1 --pidfile "$PID_FILE" >"$LOG_FILE" 2>&1 </dev/null &
  for _ in $(seq 1 $((START_TIMEOUT_S * 2))); do
    if engine_answers; then echo "docker: engine ready"; return 0; fi
    sleep 0.5
  done
  echo "docker: dockerd did not answer within ${START_TIMEOUT_S} s; last lines of $LOG_FILE:" >&2
  tail -n 20 "$LOG_FILE" >&2 || true
  return 1
}

stop() {
  if [ -f "$PID_FILE" ]; then
    local pid
    pid=$(cat "$PID_FILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    rm -f "$PID_FILE"
    echo "docker: stopped dockerd $pid"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
