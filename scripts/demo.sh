#!/usr/bin/env bash
# `make demo`: services up, a table and a topic, a standalone Spillway sink running, sample IoT
# readings produced, and the rows read back from Cassandra. Safe to run again (each run uses a fresh
# topic and connector name; the table is recreated).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${DEMO_COUNT:-5000}
RUN=${SPILLWAY_RUN_DIR:-$PWD/.run}
DEMO="$RUN/demo"
BIN=target/debug
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Starting Kafka and Cassandra"
tests/services/services.sh up
# shellcheck disable=SC1091
. "$RUN/services.env"

step "Building Spillway"
cargo build -q -p spillway -p spillway-tests --bins

run_id=$(date +%s)
topic="iot-readings-$run_id"
mkdir -p "$DEMO"
cp demo/worker.properties "$DEMO/worker.properties"
sed -e "s/iot-readings/$topic/g" -e "s/^name=iot-sink/name=iot-sink-$run_id/" demo/iot-sink.properties > "$DEMO/iot-sink.properties"

step "Creating table demo.readings and topic $topic (4 partitions)"
"$BIN/spillway-dev" cql "DROP TABLE IF EXISTS demo.readings" >/dev/null 2>&1 || true
"$BIN/spillway-dev" create-iot-table --keyspace demo
"$BIN/spillway-dev" create-topic --topic "$topic" --partitions 4

step "Starting: spillway standalone worker.properties iot-sink.properties"
sed 's/^/    /' "$DEMO/iot-sink.properties"
"$BIN/spillway" standalone "$DEMO/worker.properties" "$DEMO/iot-sink.properties" > "$DEMO/spillway.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null && wait $pid 2>/dev/null || true' EXIT
echo "    spillway pid $pid, log: $DEMO/spillway.log"

step "Producing $COUNT IoT sensor readings"
"$BIN/spillway-dev" produce-iot --topic "$topic" --count "$COUNT"

step "Waiting for the rows"
"$BIN/spillway-dev" wait-rows --table demo.readings --count "$COUNT" --timeout 120

step "Connector status (GET /connectors/iot-sink-$run_id/status)"
curl -fsS "http://127.0.0.1:8083/connectors/iot-sink-$run_id/status" && echo

step "Rows in Cassandra"
"$BIN/spillway-dev" cql "SELECT count(*) FROM demo.readings"
"$BIN/spillway-dev" cql "SELECT sensor_id, ts, site, temperature, humidity, pressure, battery FROM demo.readings WHERE sensor_id = 'sensor-042' LIMIT 8"

step "Stopping Spillway (graceful: in-flight writes drain, offsets commit)"
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT
echo "    done. Services keep running; 'make down' stops them."
