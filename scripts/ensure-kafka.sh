#!/usr/bin/env bash
# Makes sure a Kafka broker answers at KAFKA_BROKERS: one that already serves there is used as
# it is; otherwise, for the default local address, scripts/kafka.sh starts the local broker.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
brokers="${KAFKA_BROKERS:-127.0.0.1:9092}"
if node --disable-warning=TimeoutNegativeWarning scripts/kafka-answers.mjs; then
  echo "kafka: a broker answers at $brokers"
  exit 0
fi
case "$brokers" in
  127.0.0.1:9092|localhost:9092) exec bash scripts/kafka.sh start ;;
  *) echo "kafka: no broker answers at KAFKA_BROKERS=$brokers; start it, or unset KAFKA_BROKERS to use the local one" >&2; exit 1 ;;
esac
