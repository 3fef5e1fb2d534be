#!/usr/bin/env bash
# Runs the whole pipeline on this machine with the Asana simulator as traffic:
# local Kafka (started here), local Postgres, the simulator, ingest, enricher, projector and
# fanout as real processes, a webhook on each simulated project, then random changes while
# `asana-stream status` shows what flows through each stage. Logs: .local/demo/<app>.log.
# The demo's settings land in .local/demo/env: `source .local/demo/env` and the cli commands of
# the README's Operate table work on the demo's installation as written.
# Ctrl-C (or SIGTERM) stops everything the demo started; the Kafka broker stays up for the next run.
#
#   DEMO_CHANGES=200 DEMO_RATE=10 npm start      # how much traffic, and how fast
#   DEMO_KEEP_RUNNING=1 npm start                # keep the apps up afterwards (Ctrl-C stops)
#   SIM_FAULT_DUPLICATE_RATE=0.2 SIM_FAULT_REORDER_RATE=0.2 npm start   # Asana's faults
#   SIM_RATE_LIMIT_REQUESTS=30 SIM_RATE_LIMIT_WINDOW_SECONDS=10 npm start # Asana's 429s
#   DEMO_BASE_PORT=3100 DEMO_SIMULATOR_PORT=4110 DEMO_DIR=.local/demo2 npm start # a second copy
#   DEMO_PREPARE=0 npm start                     # skip installing and building (already done)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case "${1:-}" in
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

source scripts/node-env.sh
changes="${DEMO_CHANGES:-150}"
rate="${DEMO_RATE:-10}"
logs="${DEMO_DIR:-.local/demo}"
base_port="${DEMO_BASE_PORT:-3000}"
sim_port="${DEMO_SIMULATOR_PORT:-4010}"
sim="http://127.0.0.1:$sim_port"
mkdir -p "$logs"

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/asana_stream_demo}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
export KAFKA_TOPIC_PREFIX="${KAFKA_TOPIC_PREFIX:-demo.}"
export SIM_TOKEN=demo-token ASANA_TOKEN=demo-token
export ASANA_BASE_URL="$sim/api/1.0"
export INGEST_PUBLIC_URL="http://127.0.0.1:$base_port"
export HOST=127.0.0.1 KAFKAJS_NO_PARTITIONER_WARNING=1
# The key webhook secrets are encrypted with at rest: this machine's own, made once, kept in .local/
# (never in git) so secrets stored by an earlier run stay readable. A real installation keeps its
# keys in a secret store (docs/runbooks.md, "Rotating the webhook secret key").
keys_file=.local/webhook-secret-keys
if [ -z "${WEBHOOK_SECRET_KEYS:-}" ]; then
  if [ ! -s "$keys_file" ]; then
    mkdir -p .local
    ( umask 077
      node -e 'process.stdout.write(`demo:${require("node:crypto").randomBytes(32).toString("base64")}\n`)' >"$keys_file" )
  fi
  WEBHOOK_SECRET_KEYS=$(<"$keys_file")
fi
export WEBHOOK_SECRET_KEYS

say() { printf '\n== %s\n' "$*"; }
cli() { node dist/apps/cli/src/main.js "$@"; }
# A sleep that a signal interrupts at once (bash runs a trap only between foreground commands).
nap_pid=
nap() { sleep "$1" & nap_pid=$!; wait "$nap_pid"; nap_pid=; }

# What the cli needs to reach this installation, for `source $logs/env`. The token is the
# simulator's, not Asana's, and the key the demo's own; the file is still readable by its owner only.
( umask 077
  { echo "# asana-stream demo installation, written by npm start: source this file, then run the cli"
    for name in DATABASE_URL KAFKA_BROKERS KAFKA_TOPIC_PREFIX ASANA_BASE_URL ASANA_TOKEN INGEST_PUBLIC_URL WEBHOOK_SECRET_KEYS; do
      printf 'export %s=%q\n' "$name" "${!name}"
    done
  } >"$logs/env" )

say "preparing: dependencies, build, Kafka, Postgres, schema and topics"
if [ "${DEMO_PREPARE:-1}" != 0 ]; then
  bash scripts/install-deps.sh
  npm run --silent build
fi
bash scripts/ensure-kafka.sh
bash scripts/postgres.sh ensure
# Each run starts from nothing: the simulator's gids restart with it.
cli reset --yes
cli setup

pids=()
stop_all() {
  local status=$?
  trap - INT TERM
  [ -n "$nap_pid" ] && kill "$nap_pid" 2>/dev/null
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping the simulator and the apps"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
  fi
  echo "the Kafka broker at $KAFKA_BROKERS keeps running for the next run; stop it with: bash scripts/kafka.sh stop"
  echo "the demo's settings are in $logs/env: source it, then run e.g. node dist/apps/cli/src/main.js status"
  exit "$status"
}
trap stop_all EXIT
# `npm start` forwards SIGINT and SIGTERM to this script (it runs under exec, see package.json).
trap 'exit 130' INT
trap 'exit 143' TERM

start_app() { # name port [env...]
  local name=$1 port=$2; shift 2
  env PORT="$port" "$@" node "dist/apps/$name/src/main.js" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then
      echo "  $name ready on :$port"; return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then echo "  $name exited; last lines of $logs/$name.log:" >&2; tail -20 "$logs/$name.log" >&2; exit 1; fi
    nap 0.5
  done
  echo "  $name not ready after 60 s; see $logs/$name.log" >&2; exit 1
}

say "starting the simulator and the four apps"
start_app asana-simulator "$sim_port"
start_app ingest "$base_port"
start_app enricher $((base_port + 1))
start_app projector $((base_port + 2))
start_app fanout $((base_port + 3))

say "registering a webhook on each simulated project (handshake through ingest)"
projects=$(curl -fsS -H "Authorization: Bearer $ASANA_TOKEN" "$ASANA_BASE_URL/workspaces" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).data[0].gid))' |
  xargs -I{} curl -fsS -H "Authorization: Bearer $ASANA_TOKEN" "$ASANA_BASE_URL/projects?workspace={}" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).data.map(p=>p.gid).join(" ")))')
for project in $projects; do cli webhooks create --resource "$project"; done

say "traffic: $changes random changes at $rate/s; status every 2 s"
run=$(curl -fsS -X POST -H 'content-type: application/json' -d "{\"changes\":$changes,\"ratePerSecond\":$rate}" \
  "$sim/_sim/traffic" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).data.id))')
node dist/apps/cli/src/main.js status --watch 2 &
watcher=$!
pids+=("$watcher")
until curl -fsS "$sim/_sim/traffic/$run" | grep -q '"status":"finished"'; do nap 1; done
# Drained: nothing waiting in any consumer or in the outbox for two readings in a row.
drained=0
for _ in $(seq 1 60); do
  if cli status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);process.exit(j.enricherLag+j.projectorLag+j.outbox.unpublished===0?0:1)})'; then
    drained=$((drained + 1)); [ $drained -ge 2 ] && break
  else drained=0; fi
  nap 1
done
kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true
unset 'pids[-1]' # the watcher, started last

say "final state"
cli status
sim_tasks=$(curl -fsS $sim/_sim/state | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s).data.tasks;console.log(`${t.filter(x=>!x.deleted).length} live, ${t.filter(x=>x.deleted).length} deleted`)})')
echo "simulator tasks: $sim_tasks (compare the projector's tasks above: the webhooks bring every change, each project's first resync the tasks that were there before)"
curl -fsS $sim/_sim/faults | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const f=JSON.parse(s).data;console.log(`simulated Asana faults: ${f.duplicated} deliveries duplicated, ${f.reordered} held back, ${f.dropped} lost (SIM_FAULT_*_RATE)`)})'
curl -fsS $sim/_sim/rate-limits | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).data;console.log(`simulated Asana API: ${r.admitted} requests served, ${r.rateLimited + r.concurrencyLimited} refused with 429 (SIM_RATE_LIMIT_*)`)})'
echo "a few of the changes downstream teams received (asana.changes.task):"
psql "$DATABASE_URL" -Atc "SELECT change->>'action', gid, change->'changes' FROM outbox ORDER BY id DESC LIMIT 5" 2>/dev/null | cut -c1-160 || true

if [ "${DEMO_KEEP_RUNNING:-0}" = 1 ]; then
  say "apps keep running (ingest :$base_port, simulator :$sim_port); Ctrl-C stops them"
  while true; do nap 3600; done
fi
