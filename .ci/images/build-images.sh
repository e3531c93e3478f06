#!/usr/bin/env bash
# Builds the Redis and Kafka images the Testcontainers provider uses, from Debian packages
# and Maven Central only (no registry is reachable here): a Debian bookworm rootfs made by
# `debootstrap --variant=minbase`, imported with `docker import`. Each image is cached as a
# `docker save | gzip` tarball, so a later run loads it in seconds. Idempotent; no stdin.
#
#   STREAMCHECK_IMAGE_PREFIX   (default streamcheck.local) -> PREFIX/redis:7, PREFIX/apache/kafka:3.9.2
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE_DIR=${STREAMCHECK_CACHE_DIR:-$HOME/.cache/streamcheck}/images
PREFIX=${STREAMCHECK_IMAGE_PREFIX:-streamcheck.local}
KAFKA_VERSION=${STREAMCHECK_KAFKA_VERSION:-3.9.2}
REDIS_IMAGE="$PREFIX/redis:7"
KAFKA_IMAGE="$PREFIX/apache/kafka:$KAFKA_VERSION"
SUITE=bookworm
mkdir -p "$CACHE_DIR"
command -v debootstrap >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq </dev/null; apt-get install -y -qq debootstrap </dev/null >/dev/null; }

# Trims what a container never needs (docs, locales, apt lists) to keep images small.
trim_rootfs() {
  rm -rf "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/* "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*
}

# ensure_image NAME TARBALL BUILD_FUNCTION: present -> nothing; cached tarball -> load; else build and cache.
ensure_image() {
  local name=$1 tarball=$2 build=$3
  if docker image inspect "$name" >/dev/null 2>&1; then echo "images: $name present"; return; fi
  if [ -f "$tarball" ]; then
    echo "images: loading $name from $tarball"
    gunzip -c "$tarball" | docker load >/dev/null
    return
  fi
  local started=$SECONDS
  echo "images: building $name"
  "$build"
  docker save "$name" | gzip -1 >"$tarball.partial"
  mv "$tarball.partial" "$tarball"
  echo "images: built and cached $name in $((SECONDS - started)) s"
}

build_redis() {
  local rootfs
  rootfs=$(mktemp -d /tmp/streamcheck-rootfs-redis-XXXXXX)
  debootstrap --variant=minbase --include=redis-server "$SUITE" "$rootfs" >/tmp/streamcheck-debootstrap-redis.log 2>&1 ||
    { tail -n 20 /tmp/streamcheck-debootstrap-redis.log >&2; return 1; }
  install -m 0755 "$here/redis-entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
  trim_rootfs "$rootfs"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    --change 'CMD ["redis-server"]' \
    --change 'EXPOSE 6379' - "$REDIS_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

build_kafka() {
  local libs=${STREAMCHECK_KAFKA_LIBS:-${STREAMCHECK_CACHE_DIR:-$HOME/.cache/streamcheck}/kafka-$KAFKA_VERSION/libs}
  [ -d "$libs" ] || bash "$here/../kafka-jars.sh"
  local rootfs
  rootfs=$(mktemp -d /tmp/streamcheck-rootfs-kafka-XXXXXX)
  debootstrap --variant=minbase --include=openjdk-17-jre-headless "$SUITE" "$rootfs" >/tmp/streamcheck-debootstrap-kafka.log 2>&1 ||
    { tail -n 20 /tmp/streamcheck-debootstrap-kafka.log >&2; return 1; }
  mkdir -p "$rootfs/opt/kafka/libs" "$rootfs/etc/kafka/docker"
  cp "$libs"/*.jar "$rootfs/opt/kafka/libs/"
  install -m 0755 "$here/kafka-run.sh" "$rootfs/etc/kafka/docker/run"
  trim_rootfs "$rootfs"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENTRYPOINT ["/etc/kafka/docker/run"]' \
    --change 'EXPOSE 9092' - "$KAFKA_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

ensure_image "$REDIS_IMAGE" "$CACHE_DIR/redis-7.tar.gz" build_redis
ensure_image "$KAFKA_IMAGE" "$CACHE_DIR/kafka-$KAFKA_VERSION.tar.gz" build_kafka
echo "images: ready: $REDIS_IMAGE $KAFKA_IMAGE"
