#!/usr/bin/env bash
# REST conformance (`make test-conformance`, the last step of `make test`): a standalone Spillway worker
# with no connectors, then
#   1. the `kc` CLI of kafka-connect-py drives one connector through create → status → pause → resume →
#      restart → config update → delete, checking the JSON of every step;
#   2. schemathesis against Kafka Connect's own spec (connect_rest.yaml, settings in connect.toml);
#   3. schemathesis against the worker's GET /openapi.json (settings in spillway.toml).
# Needs the services (`make up`), the binaries (`cargo build --workspace --bins`) and plugins/dist
# (`make plugins`). The Python tools are pinned in requirements.txt and installed into .run/venv, again
# only when that file changes. Prints a summary; exits non-zero when any stage failed.
#
# Knobs: CONFORMANCE_MAX_EXAMPLES (examples per operation and phase, default 30), CONFORMANCE_SEED
# (default fixed, so a failure reproduces; `random` for a new one each run), CONFORMANCE_STAGES (a
# subset of "kc connect-spec spillway-spec"), CONFORMANCE_READY_TIMEOUT / CONFORMANCE_STATE_TIMEOUT /
# CONFORMANCE_STAGE_TIMEOUT (seconds), CONFORMANCE_BIN_DIR (where spillway and spillway-dev are;
# default target/debug).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/tests/conformance
RUN=${SPILLWAY_RUN_DIR:-$ROOT/.run}
OUT=$RUN/conformance
VENV=$RUN/venv
BIN=${CONFORMANCE_BIN_DIR:-$ROOT/target/debug}
MAX_EXAMPLES=${CONFORMANCE_MAX_EXAMPLES:-30}
SEED=${CONFORMANCE_SEED:-20260101}
STAGES=${CONFORMANCE_STAGES:-kc connect-spec spillway-spec}
READY_TIMEOUT=${CONFORMANCE_READY_TIMEOUT:-60}
STATE_TIMEOUT=${CONFORMANCE_STATE_TIMEOUT:-60}
STAGE_TIMEOUT=${CONFORMANCE_STAGE_TIMEOUT:-300}
CONNECTOR=conformance-sink

say() { printf '\033[1m[conformance]\033[0m %s\n' "$*"; }
die() { say "error: $*" >&2; exit 1; }

# --- the Python tools -----------------------------------------------------------------------------

install_tools() { # a venv per requirements.txt (and Python) version, rebuilt only when either changes
  local want
  want=$( { sha256sum "$HERE/requirements.txt"; python3 --version; } | sha256sum | cut -d' ' -f1)
  if [ -x "$VENV/bin/schemathesis" ] && [ -x "$VENV/bin/kc" ] && [ "$(cat "$VENV/.requirements" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  say "installing tests/conformance/requirements.txt into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
  echo "$want" > "$VENV/.requirements"
}

# --- the worker -----------------------------------------------------------------------------------

PID=
stop_worker() {
  [ -n "$PID" ] || return 0
  if kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -0 "$PID" 2>/dev/null && { say "spillway (pid $PID) did not stop in 20 s; killing it"; kill -KILL "$PID" 2>/dev/null || true; }
  fi
  wait "$PID" 2>/dev/null || true
  rm -f "$OUT/spillway.pid"
  PID=
}
trap stop_worker EXIT
trap 'exit 130' INT TERM # so that the EXIT trap stops the worker

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_worker() {
  local port
  port=$(free_port)
  URL=http://127.0.0.1:$port
  # A copy of plugins/dist: the fuzzer PUTs and DELETEs /plugins/{name}, which must not touch the build.
  rm -rf "$OUT/plugins"
  cp -r "$ROOT/plugins/dist" "$OUT/plugins"
  cat > "$OUT/worker.properties" <<EOF
# Written by tests/conformance/run.sh.
bootstrap.servers=$KAFKA_BOOTSTRAP
listeners=$URL
plugin.path=$OUT/plugins
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=false
EOF
  "$BIN/spillway" standalone "$OUT/worker.properties" > "$OUT/spillway.log" 2>&1 &
  PID=$!
  echo "$PID" > "$OUT/spillway.pid"
  say "spillway standalone (pid $PID) on $URL; log: $OUT/spillway.log"
  local deadline=$((SECONDS + READY_TIMEOUT)) code
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/health" || true)
    [ "$code" = 200 ] && break
    if ! kill -0 "$PID" 2>/dev/null; then
      tail -n 30 "$OUT/spillway.log" >&2
      die "spillway exited before GET /health answered 200"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$OUT/spillway.log" >&2
      die "GET /health did not answer 200 within ${READY_TIMEOUT}s (last: ${code:-no answer})"
    fi
    sleep 0.2
  done
  say "healthy: GET $URL/health answered 200"
}

worker_alive() { [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; }

# --- stage 1: the kc CLI --------------------------------------------------------------------------

kc() { "$VENV/bin/kc" --url "$URL" "$@" 2>>"$OUT/kc.log"; }

# jcheck JSON EXPR — exits non-zero unless the JSON parses and the Python expression over it (`d`) holds.
jcheck() {
  "$VENV/bin/python" - "$1" "$2" <<'PY'
import json, sys
text, expr = sys.argv[1], sys.argv[2]
try:
    d = json.loads(text)
except ValueError:
    sys.exit(f"not JSON: {text[:300]!r}")
try:
    ok = eval(expr, {"d": d})
except Exception as e:
    sys.exit(f"`{expr}` raised {type(e).__name__}: {e} on {text[:300]}")
if not ok:
    sys.exit(f"`{expr}` is false for {text[:500]}")
PY
}

# kc prints the HTTP error (and exits 0) when a request fails, so a step that prints nothing on
# success is checked for printing nothing.
expect_silent() { # expect_silent WHAT OUTPUT
  [ -z "$2" ] || { echo "$1 printed: $2"; return 1; }
}

# wait_state STATE [TASKS] — polls `kc status` until the connector and all its tasks (TASKS of them, if
# given; at least one) are STATE.
wait_state() {
  local state=$1 tasks=${2:-} deadline=$((SECONDS + STATE_TIMEOUT)) out=
  local expr="d['name'] == '$CONNECTOR' and d['connector']['state'] == '$state' and len(d['tasks']) > 0 and all(t['state'] == '$state' for t in d['tasks'])"
  [ -z "$tasks" ] || expr="$expr and len(d['tasks']) == $tasks"
  while :; do
    out=$(kc status "$CONNECTOR") || true
    jcheck "$out" "$expr" 2>/dev/null && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "not $state${tasks:+ with $tasks tasks} within ${STATE_TIMEOUT}s; last status: $out"
      return 1
    fi
    sleep 0.3
  done
}

KC_FAILED=()
kc_step() { # kc_step NAME FUNCTION — runs one step; a failure is recorded and the next step still runs
  local name=$1 msg rc
  # Not `if msg=$(…)` nor `… || rc=$?`: bash ignores `set -e` inside those, even in a subshell.
  set +e
  msg=$(set -euo pipefail; "$2" 2>&1)
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    printf '  ok    %s\n' "$name"
  else
    printf '  FAIL  %s\n%s\n' "$name" "$(printf '%s\n' "$msg" | sed 's/^/          /')"
    KC_FAILED+=("$name")
  fi
}

step_info() {
  local out; out=$(kc info)
  jcheck "$out" "isinstance(d.get('version'), str) and d['version'] and isinstance(d.get('commit'), str) and isinstance(d.get('kafka_cluster_id'), str)"
}
step_create() {
  local out; out=$(kc create --config-file "$HERE/connector.json")
  jcheck "$out" "d['name'] == '$CONNECTOR' and d['type'] == 'sink' and d['config']['topics'] == 'conformance-events' and d['config'].get('name') == '$CONNECTOR' and isinstance(d['tasks'], list)"
}
step_list() {
  local out; out=$(kc list)
  jcheck "$out" "d == ['$CONNECTOR']"
  out=$(kc list --expand status)
  jcheck "$out" "list(d) == ['$CONNECTOR'] and d['$CONNECTOR']['status']['name'] == '$CONNECTOR'"
}
step_running() { wait_state RUNNING 1; }
step_get() {
  local out; out=$(kc get "$CONNECTOR")
  jcheck "$out" "d['name'] == '$CONNECTOR' and d['tasks'] == [{'connector': '$CONNECTOR', 'task': 0}] and d['type'] == 'sink'"
  out=$(kc list-tasks "$CONNECTOR")
  jcheck "$out" "[t['id'] for t in d] == [{'connector': '$CONNECTOR', 'task': 0}] and all(isinstance(t['config'], dict) for t in d)"
  out=$(kc task-status "$CONNECTOR" 0)
  jcheck "$out" "d['id'] == 0 and d['state'] == 'RUNNING' and isinstance(d['worker_id'], str)"
  out=$(kc list-plugins)
  jcheck "$out" "any(p['class'].endswith('CassandraSinkConnector') and p['type'] == 'sink' for p in d) and any(p['class'].endswith('CassandraSourceConnector') and p['type'] == 'source' for p in d) and all(p['type'] in ('sink', 'source') for p in d)"
}
step_pause() {
  local out; out=$(kc pause "$CONNECTOR")
  expect_silent "kc pause" "$out"
  wait_state PAUSED
}
step_resume() {
  local out; out=$(kc resume "$CONNECTOR")
  expect_silent "kc resume" "$out"
  wait_state RUNNING
}
step_restart() {
  local out; out=$(kc restart "$CONNECTOR") # the connector instance only: 204, then kc prints the status
  jcheck "$out" "d['name'] == '$CONNECTOR' and d['connector']['state'] in ('RUNNING', 'RESTARTING', 'UNASSIGNED')"
  wait_state RUNNING
  out=$(kc restart --include-tasks "$CONNECTOR") # KIP-745: 202 with the instances RESTARTING
  jcheck "$out" "d['name'] == '$CONNECTOR' and len(d['tasks']) == 1"
  wait_state RUNNING
  out=$(kc restart-task "$CONNECTOR" 0) # 204: kc prints null
  jcheck "$out" "d is None"
  wait_state RUNNING
}
step_update() {
  local out; out=$(kc update "$CONNECTOR" --config-file "$HERE/connector-update.json")
  jcheck "$out" "d['name'] == '$CONNECTOR' and d['config']['tasks.max'] == '2' and d['type'] == 'sink'"
  out=$(kc config "$CONNECTOR")
  jcheck "$out" "d['tasks.max'] == '2' and d['topics'] == 'conformance-events'"
  wait_state RUNNING 2
}
step_delete() {
  local out; out=$(kc delete "$CONNECTOR")
  expect_silent "kc delete" "$out"
  out=$(kc list)
  jcheck "$out" "d == []"
  out=$(kc status "$CONNECTOR") # kc prints the HTTP error
  case $out in *404*) ;; *) echo "status after delete: expected a 404, got: $out"; return 1 ;; esac
}

stage_kc() {
  : > "$OUT/kc.log"
  say "kc (kafka-connect-py) against $URL (its log: $OUT/kc.log)"
  KC_FAILED=()
  kc_step "kc info (GET /)" step_info
  kc_step "kc create (POST /connectors)" step_create
  kc_step "kc list [--expand status]" step_list
  kc_step "kc status: RUNNING" step_running
  kc_step "kc get / list-tasks / task-status / list-plugins" step_get
  kc_step "kc pause, then PAUSED" step_pause
  kc_step "kc resume, then RUNNING" step_resume
  kc_step "kc restart [--include-tasks] / restart-task, then RUNNING" step_restart
  kc_step "kc update (PUT config, tasks.max=2), then 2 tasks RUNNING" step_update
  kc_step "kc delete, then gone" step_delete
  [ "${#KC_FAILED[@]}" -eq 0 ]
}

# --- stages 2 and 3: schemathesis -----------------------------------------------------------------

run_schemathesis() { # run_schemathesis CONFIG NAME LOCATION — one run, its output kept in $OUT/NAME.txt
  local config=$1 name=$2 location=$3 seed=$SEED rc=0
  [ "$seed" != random ] || seed=$RANDOM$RANDOM
  say "schemathesis: $location (settings: tests/conformance/$(basename "$config"), seed $seed; output: $OUT/$name.txt)"
  # SCHEMATHESIS_HOOKS loads conformance_checks.py (error_message_conformance,
  # success_response_schema_conformance); the cwd keeps what schemathesis writes under .run.
  # --request-timeout: an offsets change right after a stop waits (bounded) for the stopped tasks'
  # consumers to leave their group, up to Kafka's session timeout (10 s for sink tasks).
  (cd "$OUT" && PYTHONPATH=$HERE SCHEMATHESIS_HOOKS=conformance_checks \
    timeout "$STAGE_TIMEOUT" "$VENV/bin/schemathesis" --config-file "$config" run "$location" \
      --url "$URL" --max-examples "$MAX_EXAMPLES" --seed "$seed" --no-color --request-timeout 45 \
      --report junit --report-junit-path "$OUT/$name.junit.xml") > "$OUT/$name.txt" 2>&1 || rc=$?
  # Here the errors and failures (if any) and the summary; the whole output stays in the file.
  if grep -Eq '^=+ (ERRORS|FAILURES) =+$' "$OUT/$name.txt"; then
    sed -En '/^=+ (ERRORS|FAILURES) =+$/,$p' "$OUT/$name.txt" | grep -Ev '^ *st replay |^$|Need more help|Join our Discord' || true
  elif grep -q '^=* SUMMARY =*$' "$OUT/$name.txt"; then
    sed -n '/^=* SUMMARY =*$/,$p' "$OUT/$name.txt" | grep -v '^$' || true
  else
    tail -n 30 "$OUT/$name.txt"
  fi
  [ "$rc" -ne 124 ] || echo "timed out after ${STAGE_TIMEOUT}s"
  return "$rc"
}

# The sink the fuzzer finds under a known name (connect.toml, spillway.toml): PUT …/config creates it
# or, when a previous run left it changed, puts its config back.
put_fixture() {
  local code
  code=$("$VENV/bin/python" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["config"]))' "$HERE/connector.json" |
    curl -s -o "$OUT/fixture.json" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' --data-binary @- \
      "$URL/connectors/conformance-fuzz/config" || true)
  case $code in 200 | 201) ;; *) say "warning: PUT /connectors/conformance-fuzz/config answered ${code:-nothing}: $(cat "$OUT/fixture.json" 2>/dev/null)" ;; esac
}

stage_connect_spec() { put_fixture; run_schemathesis "$HERE/connect.toml" connect-spec "$HERE/connect_rest.yaml"; }
stage_spillway_spec() { put_fixture; run_schemathesis "$HERE/spillway.toml" spillway-spec "$URL/openapi.json"; }

# --- main -----------------------------------------------------------------------------------------

[ -f "$RUN/services.env" ] || die "$RUN/services.env is missing: start the services with \`make up\`"
# shellcheck disable=SC1091
set -a; . "$RUN/services.env"; set +a
[ -x "$BIN/spillway" ] && [ -x "$BIN/spillway-dev" ] || die "build first: cargo build --workspace --bins"
[ -d "$ROOT/plugins/dist" ] || die "plugins/dist is missing: make plugins"
mkdir -p "$OUT"
T0=$SECONDS
install_tools

say "keyspace conformance, table events, topic conformance-events"
"$BIN/spillway-dev" cql "CREATE KEYSPACE IF NOT EXISTS conformance WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}" >/dev/null
"$BIN/spillway-dev" cql "CREATE TABLE IF NOT EXISTS conformance.events (id text PRIMARY KEY, body text)" >/dev/null
if ! topic_out=$(RUST_BACKTRACE=0 "$BIN/spillway-dev" create-topic --topic conformance-events --partitions 1 2>&1); then
  case $topic_out in *"already exists"*) ;; *) printf '%s\n' "$topic_out" >&2; die "creating topic conformance-events failed" ;; esac
fi

start_worker

declare -a RESULTS=()
FAILED=0
for stage in $STAGES; do
  t=$SECONDS
  if ! worker_alive; then
    RESULTS+=("$(printf 'FAIL  %-14s %4s   (not run: spillway had exited)' "$stage" -)")
    continue
  fi
  # Each stage in a subshell, called outside `if`/`||`: there bash would ignore `set -e` in kc_step.
  set +e
  case $stage in
    kc) (stage_kc) ;;
    connect-spec) (stage_connect_spec) ;;
    spillway-spec) (stage_spillway_spec) ;;
    *) die "unknown stage '$stage' (CONFORMANCE_STAGES: kc connect-spec spillway-spec)" ;;
  esac
  rc=$?
  set -e
  if ! worker_alive; then
    say "spillway exited during '$stage'; the log's tail:"
    tail -n 30 "$OUT/spillway.log"
    RESULTS+=("$(printf 'FAIL  %-14s %4ds  (spillway exited)' "$stage" $((SECONDS - t)))")
    FAILED=1
    continue
  fi
  if [ "$rc" -eq 0 ]; then
    RESULTS+=("$(printf 'ok    %-14s %4ds' "$stage" $((SECONDS - t)))")
  else
    RESULTS+=("$(printf 'FAIL  %-14s %4ds' "$stage" $((SECONDS - t)))")
    FAILED=1
  fi
done

stop_worker
say "summary (${MAX_EXAMPLES} examples per operation, seed $SEED; outputs in $OUT):"
for line in "${RESULTS[@]}"; do printf '  %s\n' "$line"; done
printf '  total %ds\n' $((SECONDS - T0))
passed=$(printf '%s\n' "${RESULTS[@]}" | grep -c '^ok' || true)
echo "conformance: $passed passed, $((${#RESULTS[@]} - passed)) failed"
exit "$FAILED"
