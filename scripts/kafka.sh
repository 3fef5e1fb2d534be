#!/usr/bin/env bash
# Runs a real single-node Apache Kafka broker (KRaft, combined broker+controller) on this machine,
# without Docker: the jars come from Maven Central (kafka/pom.xml), Java runs them.
# See kafka/README.md and `scripts/kafka.sh --help`.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CONF_DIR="$REPO_ROOT/kafka"
POM="$CONF_DIR/pom.xml"
BASE_PROPS="$CONF_DIR/server.properties"
LOG4J_CONF="$CONF_DIR/log4j2.properties"

HOME_DIR="${KAFKA_HOME_DIR:-$REPO_ROOT/.local/kafka}"
case "$HOME_DIR" in /*) ;; *) HOME_DIR="$PWD/$HOME_DIR" ;; esac
LIB_DIR="$HOME_DIR/lib"
DATA_DIR="$HOME_DIR/data"
PROPS="$HOME_DIR/server.properties"
PID_FILE="$HOME_DIR/broker.pid"
LOG_FILE="$HOME_DIR/broker.log"
CID_FILE="$HOME_DIR/cluster-id"
LIB_STAMP="$LIB_DIR/.pom.sha256"

HOST=127.0.0.1
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-9093}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
JVM_OPTS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:MaxDirectMemorySize=256m -Djava.awt.headless=true ${KAFKA_JVM_OPTS:-}"

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<EOF
Usage: scripts/kafka.sh <command>

Runs a single-node Apache Kafka broker (KRaft) on $HOST:\$KAFKA_PORT, without Docker.

Commands:
  start      resolve jars (first run, via Maven), format storage (first run), start the broker
             in the background and wait until it answers. Idempotent: exits 0 if already running.
  stop       SIGTERM, wait up to \$KAFKA_STOP_TIMEOUT s for a clean shutdown, then SIGKILL.
             Exits 0 if it was not running.
  status     exit 0 = running and answering, 1 = not running,
             2 = process alive but not answering (starting up / hung), 3 = stale pid file.
  logs [-f]  print the last \$KAFKA_LOG_LINES (100) lines of the broker log; -f follows it.
  help       this text.

Environment:
  KAFKA_PORT              client listener port (default 9092)
  KAFKA_CONTROLLER_PORT   KRaft controller port (default 9093)
  KAFKA_HOME_DIR          state dir: lib/, data/, broker.log, broker.pid (default <repo>/.local/kafka)
  KAFKA_START_TIMEOUT     seconds to wait for the broker to answer (default 90)
  KAFKA_STOP_TIMEOUT      seconds to wait for a clean shutdown before SIGKILL (default 30)
  KAFKA_HEAP_OPTS         default "-Xms128m -Xmx512m"
  KAFKA_JVM_OPTS          extra JVM flags

Reset all data:  scripts/kafka.sh stop && rm -rf .local/kafka/data
EOF
}

# ---------- helpers ----------

# true if something accepts TCP connections on $HOST:$1
port_open() {
  if command -v timeout >/dev/null 2>&1; then
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
  else
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
  fi
}

# true if pid $1 exists and is not a zombie (a killed JVM can linger as a zombie until reaped)
pid_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  case "$(ps -p "$1" -o stat= 2>/dev/null || true)" in *Z*) return 1 ;; esac
  return 0
}

# true if pid $1 is a kafka.Kafka JVM started by this script with this KAFKA_HOME_DIR
is_our_broker() {
  local args
  pid_alive "$1" || return 1
  args="$(ps -ww -p "$1" -o args= 2>/dev/null || true)"
  [[ "$args" == *kafka.Kafka* && "$args" == *"$PROPS"* ]]
}

# client port of the broker running from this KAFKA_HOME_DIR: from the generated properties
# (rewritten only right before a launch), else $PORT
running_port() {
  local p=""
  [ -f "$PROPS" ] && p="$(sed -n 's/^listeners=PLAINTEXT:\/\/[^:]*:\([0-9]*\).*/\1/p' "$PROPS" | tail -1)"
  printf '%s' "${p:-$PORT}"
}

read_pid() {
  local pid=""
  [ -f "$PID_FILE" ] && pid="$(tr -dc '0-9' <"$PID_FILE" || true)"
  printf '%s' "$pid"
}

# best effort: who listens on $1 (needs ss; process info only for our own user's processes)
port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

tail_log() {
  local f="${1:-$LOG_FILE}"
  [ -f "$f" ] || return 0
  printf -- '---- last 40 lines of %s ----\n' "$f" >&2
  tail -n 40 "$f" >&2
  printf -- '----\n' >&2
}

check_java() {
  command -v java >/dev/null 2>&1 || die "'java' not found on PATH. Install a JDK/JRE 17+ (e.g. apt-get install openjdk-17-jre-headless)."
  local v major
  v="$(java -version 2>&1 | head -1)"
  major="$(printf '%s' "$v" | sed -n 's/.*version "\([0-9]*\).*/\1/p')"
  if [ -n "$major" ] && [ "$major" -lt 17 ]; then
    die "Kafka 4.x needs Java 17+, found: $v"
  fi
}

check_mvn() {
  command -v mvn >/dev/null 2>&1 || die "'mvn' not found on PATH; it is needed once to download Kafka's jars (apt-get install maven)."
}

# ---------- start steps ----------

resolve_jars() {
  local want
  want="$(sha256 "$POM")"
  if [ -f "$LIB_STAMP" ] && [ "$(cat "$LIB_STAMP")" = "$want" ] && compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  check_mvn
  say "resolving Kafka jars with Maven into $LIB_DIR (once; needs Maven Central) ..."
  rm -rf "$LIB_DIR.tmp"
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$LIB_DIR.tmp" >"$HOME_DIR/mvn.log" 2>&1; then
    tail_log "$HOME_DIR/mvn.log"
    die "mvn dependency:copy-dependencies failed (full output: $HOME_DIR/mvn.log)"
  fi
  rm -rf "$LIB_DIR"
  mv "$LIB_DIR.tmp" "$LIB_DIR"
  printf '%s\n' "$want" >"$LIB_STAMP"
  rm -f "$HOME_DIR/mvn.log"
  say "jars ready ($(ls "$LIB_DIR"/*.jar | wc -l | tr -d ' ') jars, $(du -sh "$LIB_DIR" | cut -f1))"
}

write_props() {
  {
    cat "$BASE_PROPS"
    printf '\n# ---- generated by scripts/kafka.sh (overrides the values above) ----\n'
    printf 'log.dirs=%s\n' "$DATA_DIR"
    printf 'listeners=PLAINTEXT://%s:%s,CONTROLLER://%s:%s\n' "$HOST" "$PORT" "$HOST" "$CPORT"
    printf 'advertised.listeners=PLAINTEXT://%s:%s,CONTROLLER://%s:%s\n' "$HOST" "$PORT" "$HOST" "$CPORT"
    printf 'controller.quorum.voters=1@%s:%s\n' "$HOST" "$CPORT"
  } >"$PROPS"
}

# 22-char base64url UUID, not starting with '-' (argparse would read it as an option)
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    case "$id" in -*|AAAAAAAAAAAAAAAAAAAAAA|AAAAAAAAAAAAAAAAAAAAAQ) continue ;; esac
    [ "${#id}" -eq 22 ] && break
  done
  printf '%s' "$id"
}

format_storage() {
  local cid
  if [ -f "$DATA_DIR/meta.properties" ]; then
    # already formatted: keep the cluster-id file in sync with what the data says
    cid="$(sed -n 's/^cluster\.id=//p' "$DATA_DIR/meta.properties" | head -1)"
    [ -n "$cid" ] && [ "$(cat "$CID_FILE" 2>/dev/null || true)" != "$cid" ] && printf '%s\n' "$cid" >"$CID_FILE"
    return 0
  fi
  if [ -s "$CID_FILE" ]; then cid="$(tr -d ' \n' <"$CID_FILE")"
  else cid="$(new_cluster_id)"; printf '%s\n' "$cid" >"$CID_FILE"; fi
  say "formatting KRaft storage in $DATA_DIR (cluster id $cid) ..."
  mkdir -p "$DATA_DIR"
  # shellcheck disable=SC2086
  if ! java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$LIB_DIR/*" \
        kafka.tools.StorageTool format -t "$cid" -c "$PROPS" --ignore-formatted \
        >"$HOME_DIR/format.log" 2>&1; then
    tail_log "$HOME_DIR/format.log"
    die "StorageTool format failed (output: $HOME_DIR/format.log)"
  fi
}

launch_broker() {
  [ -f "$LOG_FILE" ] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  rm -f "$PID_FILE"
  local detach=()
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  # The child writes its own pid and execs java (same pid), so the pid file is exact even with setsid.
  # New session (setsid) + nohup: Ctrl-C / hangup of the calling terminal does not reach the broker.
  # 9>&- : do not leak the start lock into the broker.
  # shellcheck disable=SC2086
  nohup "${detach[@]}" bash -c 'cd "$1" && echo $$ >"$2" && shift 2 && exec "$@"' _ \
    "$HOME_DIR" "$PID_FILE" \
    java $HEAP_OPTS $JVM_OPTS -Dlog4j2.configurationFile="$LOG4J_CONF" \
    -cp "$LIB_DIR/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  local i
  for i in $(seq 1 50); do [ -s "$PID_FILE" ] && break; sleep 0.1; done
  [ -s "$PID_FILE" ] || die "broker process did not start (see $LOG_FILE)"
}

# wait until pid $1 logs readiness and accepts connections on $PORT
wait_ready() {
  local pid="$1" t0 now elapsed next_note=10
  t0="$(date +%s)"
  say "waiting for the broker (pid $pid) on $HOST:$PORT (timeout ${START_TIMEOUT}s) ..."
  while :; do
    if ! pid_alive "$pid"; then
      tail_log
      rm -f "$PID_FILE"
      die "broker exited during startup (log: $LOG_FILE)"
    fi
    if grep -q -e 'Kafka Server started' -e 'Transitioning from RECOVERY to RUNNING' "$LOG_FILE" 2>/dev/null \
       && port_open "$PORT"; then
      now="$(date +%s)"
      say "ready on $HOST:$PORT (pid $pid, $((now - t0))s)"
      return 0
    fi
    now="$(date +%s)"; elapsed=$((now - t0))
    if [ "$elapsed" -ge "$START_TIMEOUT" ]; then
      tail_log
      say "not ready after ${START_TIMEOUT}s; stopping it (raise KAFKA_START_TIMEOUT if the machine is slow)"
      stop_pid "$pid" || true
      rm -f "$PID_FILE"
      exit 1
    fi
    if [ "$elapsed" -ge "$next_note" ]; then say "  ... still starting (${elapsed}s)"; next_note=$((next_note + 10)); fi
    sleep 0.5
  done
}

take_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$HOME_DIR/.lock"
  flock -w $((START_TIMEOUT + STOP_TIMEOUT + 60)) 9 || die "another scripts/kafka.sh is busy (lock $HOME_DIR/.lock)"
}

cmd_start() {
  local v
  for v in "$PORT" "$CPORT" "$START_TIMEOUT" "$STOP_TIMEOUT"; do
    case "$v" in ''|*[!0-9]*) die "KAFKA_PORT, KAFKA_CONTROLLER_PORT and the timeouts must be numbers (got '$v')" ;; esac
  done
  [ "$PORT" != "$CPORT" ] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
  check_java
  mkdir -p "$HOME_DIR"
  take_lock

  local pid
  pid="$(read_pid)"
  if [ -n "$pid" ]; then
    if is_our_broker "$pid"; then
      local rport; rport="$(running_port)"
      if [ "$rport" != "$PORT" ]; then
        die "already running (pid $pid) on $HOST:$rport, not on the requested KAFKA_PORT=$PORT; run '$0 stop' first to change ports"
      fi
      if port_open "$PORT"; then say "already running (pid $pid) on $HOST:$PORT"; return 0; fi
      say "pid $pid is running but not answering on $HOST:$PORT yet"
      wait_ready "$pid"
      return 0
    fi
    if pid_alive "$pid"; then say "stale pid file: pid $pid is alive but is not this broker; removing the pid file"
    else say "stale pid file: pid $pid is not running (crashed or killed?); removing it"; fi
    rm -f "$PID_FILE"
  fi

  local p owner
  for p in "$PORT" "$CPORT"; do
    if port_open "$p"; then
      owner="$(port_owner "$p")"
      if [ -n "$owner" ] && is_our_broker "$owner"; then
        die "port $p is used by a broker from this KAFKA_HOME_DIR whose pid file is missing (pid $owner): kill $owner, then start again"
      fi
      die "port $HOST:$p is already in use by another process${owner:+ (pid $owner: $(ps -p "$owner" -o comm= 2>/dev/null || true))}, not by this script's broker. Stop it, or pick free ports: KAFKA_PORT=<port> KAFKA_CONTROLLER_PORT=<port> $0 start"
    fi
  done

  resolve_jars
  write_props
  format_storage
  say "starting broker: log $LOG_FILE"
  launch_broker
  wait_ready "$(read_pid)"
}

# SIGTERM pid $1, wait STOP_TIMEOUT, then SIGKILL
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 $((STOP_TIMEOUT * 2))); do
    pid_alive "$pid" || return 0
    sleep 0.5
  done
  say "warning: pid $pid did not exit within ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 20); do pid_alive "$pid" || return 0; sleep 0.25; done
  return 1
}

cmd_stop() {
  [ -d "$HOME_DIR" ] || { say "not running"; return 0; }
  take_lock
  local pid
  pid="$(read_pid)"
  if [ -z "$pid" ]; then say "not running"; return 0; fi
  if ! is_our_broker "$pid"; then
    rm -f "$PID_FILE"
    say "not running (removed stale pid file for pid $pid)"
    return 0
  fi
  say "stopping broker (pid $pid) ..."
  local t0; t0="$(date +%s)"
  stop_pid "$pid" || die "pid $pid is still alive after SIGKILL"
  rm -f "$PID_FILE"
  say "stopped ($(( $(date +%s) - t0 ))s)"
}

cmd_status() {
  local pid
  pid="$(read_pid)"
  if [ -z "$pid" ]; then
    if port_open "$PORT"; then say "not running (but $HOST:$PORT is in use by another process)"
    else say "not running"; fi
    return 1
  fi
  if ! is_our_broker "$pid"; then
    say "not running (stale pid file: pid $pid is not this broker any more; 'start' will clean it up)"
    return 3
  fi
  local rport; rport="$(running_port)"
  if port_open "$rport"; then say "running (pid $pid) on $HOST:$rport"; return 0; fi
  say "process running (pid $pid) but not answering on $HOST:$rport (starting up?)"
  return 2
}

cmd_logs() {
  [ -f "$LOG_FILE" ] || die "no log yet ($LOG_FILE)"
  if [ "${1:-}" = "-f" ]; then exec tail -n "${KAFKA_LOG_LINES:-100}" -F "$LOG_FILE"; fi
  tail -n "${KAFKA_LOG_LINES:-100}" "$LOG_FILE"
}

case "${1:-}" in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  logs)   shift; cmd_logs "$@" ;;
  help|-h|--help) usage ;;
  "") usage >&2; exit 2 ;;
  *) printf 'kafka: unknown command: %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
esac
