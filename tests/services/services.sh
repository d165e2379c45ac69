#!/usr/bin/env bash
# Starts and stops the real services the tests, the demo and the benchmarks use: one Apache Kafka node
# (KRaft), one Apache Cassandra node and a schema registry with Confluent's REST API (Apicurio
# Registry, in memory), all run from Maven Central artifacts on 127.0.0.1, no Docker.
#
#   services.sh up      resolve jars (cached), start what is not running, wait until ready, write services.env
#   services.sh down    stop what we started, by recorded PID
#   services.sh stop S  stop one service (kafka | cassandra | registry), for fault tests; `up` starts it again
#   services.sh status  one line per service
#   services.sh jars    only resolve the jars (kafka, cassandra, registry)
#   services.sh jars S… only resolve those (kafka | cassandra | registry | connect); `connect` is Kafka
#                       Connect's worker runtime, used by `make bench-footprint` only, never by `up`
#
# Everything lives under $SPILLWAY_RUN_DIR (default: <repo>/.run): jars/, kafka/, cassandra/, tls/, services.env.
# Cassandra accepts plain and TLS clients on the same port; tls/ holds its certificate (for 127.0.0.1),
# trust stores for it in JKS, PKCS#12 and PEM (password "changeit"), and an unrelated certificate.
# Ports can be moved with KAFKA_PORT, KAFKA_CONTROLLER_PORT, CASSANDRA_PORT, CASSANDRA_STORAGE_PORT,
# REGISTRY_PORT.
set -euo pipefail

# Close the descriptors inherited from the caller: a daemon started below would otherwise hold them
# for as long as it runs. `flock <lock> cargo test` hands its lock down on one, and a fault test that
# restarts a service through this script would leave that service holding the lock (every later
# `flock` then waits forever).
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  case $fd in 0 | 1 | 2 | 255) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUN=${SPILLWAY_RUN_DIR:-$ROOT/.run}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
CASSANDRA_PORT=${CASSANDRA_PORT:-9042}
CASSANDRA_STORAGE_PORT=${CASSANDRA_STORAGE_PORT:-7000}
REGISTRY_PORT=${REGISTRY_PORT:-8081}
KAFKA_READY_TIMEOUT=${KAFKA_READY_TIMEOUT:-120}
CASSANDRA_READY_TIMEOUT=${CASSANDRA_READY_TIMEOUT:-240}
REGISTRY_READY_TIMEOUT=${REGISTRY_READY_TIMEOUT:-120}

say() { printf '[services] %s\n' "$*"; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_of() { [ -f "$RUN/$1/pid" ] && cat "$RUN/$1/pid" || true; }
alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

render() { # template → file, substituting @NAME@ placeholders
  sed -e "s|@RUN@|$RUN|g" -e "s|@TLS_DIR@|$RUN/tls|g" -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@CASSANDRA_PORT@|$CASSANDRA_PORT|g" -e "s|@CASSANDRA_STORAGE_PORT@|$CASSANDRA_STORAGE_PORT|g" "$1" > "$2"
}

resolve_jars() { # $1 = kafka | cassandra | registry | connect; reuses ~/.m2 and skips entirely when the pom is unchanged
  local svc=$1 pom="$HERE/$1/pom.xml" dir="$RUN/jars/$1" stamp goal=copy-dependencies
  [ "$svc" = registry ] && goal=unpack-dependencies # a distribution zip
  stamp=$(sha256sum "$pom" | cut -d' ' -f1)
  if [ -f "$dir/.resolved" ] && [ "$(cat "$dir/.resolved")" = "$stamp" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn is not installed; it resolves the $svc jars from Maven Central"
  local t0; t0=$(now)
  say "resolving $svc jars with Maven ($pom)"
  rm -rf "$dir"; mkdir -p "$dir"
  # Markers (unpack's "done" notes) live in $dir, so they go with it and never leave a stale "done".
  if ! mvn -q -B -f "$pom" "dependency:$goal" -DoutputDirectory="$dir" -DmarkersDirectory="$dir/.markers" -DincludeScope=runtime \
      > "$RUN/jars/$svc-mvn.log" 2>&1; then
    tail -n 30 "$RUN/jars/$svc-mvn.log" >&2
    die "Maven could not resolve the $svc jars (full log: $RUN/jars/$svc-mvn.log)"
  fi
  echo "$stamp" > "$dir/.resolved"
  say "$svc jars resolved in $(since "$t0")s ($(ls "$dir" | wc -l) jars)"
}

fail_with_log() { # $1 = service, $2 = reason
  say "$1 is not ready: $2; last lines of $RUN/$1/$1.log:"
  tail -n 40 "$RUN/$1/$1.log" >&2 || true
  exit 1
}

wait_ready() { # $1 = service, $2 = port, $3 = log line that means ready, $4 = deadline seconds, $5 = start time
  local svc=$1 port=$2 line=$3 deadline=$(( $(date +%s) + $4 ))
  until port_open "$port" && grep -q "$line" "$RUN/$svc/$svc.log" 2>/dev/null; do
    alive "$svc" || fail_with_log "$svc" "the process exited"
    [ "$(date +%s)" -lt "$deadline" ] || fail_with_log "$svc" "not ready within $4 s"
    sleep 0.5
  done
  say "$svc ready on 127.0.0.1:$port in $(since "$5")s"
}

check_port_free() { # a port held by something we did not start is a clear error, not a silent reuse
  if port_open "$2"; then
    die "port $2 (for $1) is already in use by another process; stop it or set ${3}=<free port>"
  fi
}

start_kafka() {
  local dir="$RUN/kafka" t0
  if alive kafka && port_open "$KAFKA_PORT"; then say "kafka already running (pid $(pid_of kafka))"; return 0; fi
  check_port_free kafka "$KAFKA_PORT" KAFKA_PORT
  check_port_free kafka-controller "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
  mkdir -p "$dir/data"
  render "$HERE/conf/kafka.properties" "$dir/server.properties"
  local java=(java -cp "$RUN/jars/kafka/*" -Dlog4j2.configurationFile="$HERE/conf/kafka-log4j2.properties"
              -Dkafka.logs.dir="$dir/logs")
  if [ ! -f "$dir/data/meta.properties" ]; then
    # The tool may log to stdout too: the id is its last line.
    "${java[@]}" kafka.tools.StorageTool format -t "$("${java[@]}" kafka.tools.StorageTool random-uuid | tail -n 1)" \
      -c "$dir/server.properties" > "$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "formatting Kafka storage failed"; }
  fi
  t0=$(now)
  : > "$dir/kafka.log"
  setsid "${java[@]}" -Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    kafka.Kafka "$dir/server.properties" >> "$dir/kafka.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
  say "kafka starting (pid $!), log: $dir/kafka.log"
  KAFKA_T0=$t0
}

tls_material() { # made once with the JDK's keytool; reused by later starts
  local dir="$RUN/tls"
  [ -f "$dir/.done" ] && return 0
  command -v keytool >/dev/null || die "keytool (from the JDK) is needed to make Cassandra's TLS certificate"
  rm -rf "$dir"; mkdir -p "$dir"
  local kt=(keytool -noprompt -storepass changeit -keypass changeit)
  { "${kt[@]}" -genkeypair -alias node -keyalg RSA -keysize 2048 -validity 3650 -dname CN=cassandra \
      -ext san=ip:127.0.0.1 -storetype PKCS12 -keystore "$dir/node.p12"
    "${kt[@]}" -exportcert -rfc -alias node -keystore "$dir/node.p12" -file "$dir/truststore.pem"
    "${kt[@]}" -importcert -alias cassandra -file "$dir/truststore.pem" -storetype JKS -keystore "$dir/truststore.jks"
    "${kt[@]}" -importcert -alias cassandra -file "$dir/truststore.pem" -storetype PKCS12 -keystore "$dir/truststore.p12"
    "${kt[@]}" -genkeypair -alias other -keyalg RSA -keysize 2048 -validity 3650 -dname CN=other \
      -storetype PKCS12 -keystore "$dir/other.p12"
    "${kt[@]}" -exportcert -rfc -alias other -keystore "$dir/other.p12" -file "$dir/other.pem"
  } > "$dir/keytool.log" 2>&1 || { cat "$dir/keytool.log" >&2; die "keytool failed"; }
  touch "$dir/.done"
}

start_cassandra() {
  local dir="$RUN/cassandra" jamm t0
  if alive cassandra && port_open "$CASSANDRA_PORT"; then say "cassandra already running (pid $(pid_of cassandra))"; return 0; fi
  check_port_free cassandra "$CASSANDRA_PORT" CASSANDRA_PORT
  check_port_free cassandra-storage "$CASSANDRA_STORAGE_PORT" CASSANDRA_STORAGE_PORT
  mkdir -p "$dir/data"
  tls_material
  render "$HERE/conf/cassandra.yaml" "$dir/cassandra.yaml"
  jamm=$(ls "$RUN"/jars/cassandra/jamm-*.jar | sed -n 1p)
  t0=$(now)
  : > "$dir/cassandra.log"
  # JDK 17 flags from Cassandra 5.0's conf/jvm17-server.options, plus the single-node fast-start switches.
  setsid java -cp "$RUN/jars/cassandra/*" -Xms2g -Xmx2g -XX:+ExitOnOutOfMemoryError -Xss256k -XX:+UseG1GC -XX:+ParallelRefProcEnabled \
    -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m -XX:MaxGCPauseMillis=300 -XX:+PerfDisableSharedMem \
    -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$dir" \
    -javaagent:"$jamm" -Djdk.attach.allowAttachSelf=true \
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED \
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED \
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED \
    --add-exports java.sql/java.sql=ALL-UNNAMED --add-exports java.base/java.lang.ref=ALL-UNNAMED \
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED \
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED \
    --add-opens java.base/java.lang.module=ALL-UNNAMED --add-opens java.base/jdk.internal.loader=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED --add-opens java.base/jdk.internal.module=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED \
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED \
    -Dio.netty.tryReflectionSetAccessible=true -Djava.net.preferIPv4Stack=true -Dchronicle.analytics.disable=true \
    -Dcassandra-foreground=yes -Dcassandra.storagedir="$dir/data" -Dcassandra.config="file://$dir/cassandra.yaml" \
    -Dlogback.configurationFile="$HERE/conf/logback.xml" -Dcassandra.logdir="$dir" \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.initial_token=0 -Dcassandra.load_ring_state=false \
    org.apache.cassandra.service.CassandraDaemon >> "$dir/cassandra.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
  say "cassandra starting (pid $!), log: $dir/cassandra.log"
  CASSANDRA_T0=$t0
}

start_registry() {
  local dir="$RUN/registry" t0 jar
  if alive registry && port_open "$REGISTRY_PORT"; then say "registry already running (pid $(pid_of registry))"; return 0; fi
  check_port_free registry "$REGISTRY_PORT" REGISTRY_PORT
  jar=$(find "$RUN/jars/registry" -maxdepth 1 -name '*-runner.jar' -print)
  [ -n "$jar" ] || die "no *-runner.jar in $RUN/jars/registry; remove the directory and run up again"
  mkdir -p "$dir"
  t0=$(now)
  : > "$dir/registry.log"
  setsid java -Xms64m -Xmx384m -XX:+UseSerialGC -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.log.level=WARN -Dquarkus.log.category.\"io.quarkus\".level=INFO -jar "$jar" >> "$dir/registry.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
  say "registry starting (pid $!), log: $dir/registry.log"
  REGISTRY_T0=$t0
}

write_env() {
  cat > "$RUN/services.env" <<ENV
KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
CASSANDRA_HOSTS=127.0.0.1:$CASSANDRA_PORT
SCHEMA_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
ENV
}

up() {
  command -v java >/dev/null || die "java is not installed (JDK 17 runs Kafka and Cassandra)"
  mkdir -p "$RUN/jars"
  resolve_jars kafka
  resolve_jars cassandra
  resolve_jars registry
  KAFKA_T0="" CASSANDRA_T0="" REGISTRY_T0=""
  start_cassandra   # the slower one first, so they start in parallel
  start_kafka
  start_registry
  [ -z "$KAFKA_T0" ] || wait_ready kafka "$KAFKA_PORT" "Kafka Server started" "$KAFKA_READY_TIMEOUT" "$KAFKA_T0"
  [ -z "$REGISTRY_T0" ] || wait_ready registry "$REGISTRY_PORT" "started in" "$REGISTRY_READY_TIMEOUT" "$REGISTRY_T0"
  [ -z "$CASSANDRA_T0" ] || wait_ready cassandra "$CASSANDRA_PORT" "Startup complete" "$CASSANDRA_READY_TIMEOUT" "$CASSANDRA_T0"
  write_env
  say "services up; environment in $RUN/services.env"
}

stop_one() {
  local svc=$1 pid deadline
  pid=$(pid_of "$svc")
  if [ -z "$pid" ]; then return 0; fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(date +%s) + 60 ))
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$(date +%s)" -ge "$deadline" ]; then say "$svc (pid $pid) ignored SIGTERM for 60 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.2
    done
    say "$svc stopped (pid $pid)"
  fi
  rm -f "$RUN/$svc/pid"
}

down() { stop_one kafka; stop_one cassandra; stop_one registry; rm -f "$RUN/services.env"; }

status() {
  local svc port
  for svc in kafka cassandra registry; do
    case $svc in kafka) port=$KAFKA_PORT ;; cassandra) port=$CASSANDRA_PORT ;; *) port=$REGISTRY_PORT ;; esac
    if alive "$svc"; then say "$svc: running (pid $(pid_of "$svc")), port $port $(port_open "$port" && echo open || echo closed)"
    else say "$svc: stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  stop)
    case "${2:-}" in kafka | cassandra | registry) stop_one "$2" ;; *) echo "usage: $0 stop kafka|cassandra|registry" >&2; exit 2 ;; esac ;;
  status) status ;;
  jars)
    mkdir -p "$RUN/jars"
    shift
    [ $# -gt 0 ] || set -- kafka cassandra registry
    for svc in "$@"; do
      case $svc in kafka | cassandra | registry | connect) resolve_jars "$svc" ;; *) echo "usage: $0 jars [kafka|cassandra|registry|connect]..." >&2; exit 2 ;; esac
    done ;;
  *) echo "usage: $0 up|down|stop <service>|status|jars [<service>...]" >&2; exit 2 ;;
esac
