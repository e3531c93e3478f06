#!/bin/sh
# Entry script honouring the official apache/kafka image's conventions: every KAFKA_FOO_BAR
# environment variable becomes foo.bar in server.properties (___ -> '-', __ -> '_', _ -> '.');
# CLUSTER_ID (or a fixed default)
# formats the KRaft storage on first start; then the broker runs in the foreground.
set -e
CONFIG=/opt/kafka/config/server.properties
mkdir -p /opt/kafka/config /var/lib/kafka/data
: "${KAFKA_LOG_DIRS:=/var/lib/kafka/data}"
export KAFKA_LOG_DIRS
: > "$CONFIG"
env | grep '^KAFKA_' | grep -v '^KAFKA_HEAP_OPTS=' | grep -v '^KAFKA_OPTS=' | while IFS='=' read -r name value; do
  key=$(echo "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' | sed 's/___/@D@/g; s/__/@U@/g; s/_/./g; s/@D@/-/g; s/@U@/_/g')
  echo "$key=$value" >> "$CONFIG"
done
CLASSPATH="/opt/kafka/libs/*"
HEAP=${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}
if [ ! -f "$KAFKA_LOG_DIRS/meta.properties" ]; then
  java $HEAP -cp "$CLASSPATH" kafka.tools.StorageTool format -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$CONFIG" --ignore-formatted
fi
exec java $HEAP ${KAFKA_OPTS:-} -cp "$CLASSPATH" kafka.Kafka "$CONFIG"
