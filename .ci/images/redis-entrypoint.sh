#!/bin/sh
# Like the official redis image's entrypoint: `redis-server ARGS` runs with protected mode off,
# because clients arrive through a mapped port, never from the container's own loopback.
set -e
if [ "$1" = "redis-server" ]; then
  shift
  exec /usr/bin/redis-server --protected-mode no --save "" --appendonly no "$@"
fi
exec "$@"
