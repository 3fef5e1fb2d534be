#!/usr/bin/env bash
# Makes sure the Postgres server asana-stream uses answers. DATABASE_URL picks the server
# (default: the machine's, postgres@127.0.0.1:5432). When the server is this machine's own
# Debian cluster and it is down, it is started; anything else gets exact instructions.
set -euo pipefail

url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/asana_stream}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=5432

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

case "${1:-ensure}" in
  -h|--help|help)
    echo "usage: scripts/postgres.sh [ensure]   (server from DATABASE_URL, default postgres@127.0.0.1:5432)"
    exit 0 ;;
  ensure) ;;
  *) echo "postgres.sh: unknown command '$1' (try --help)" >&2; exit 2 ;;
esac

if answers; then
  echo "postgres: answering at $host:$port"
  exit 0
fi

local_host=false
case "$host" in 127.0.0.1|localhost|::1) local_host=true ;; esac
if $local_host && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  conf="/etc/postgresql/$version/main/postgresql.conf"
  cluster_port="$(sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$conf" 2>/dev/null | tail -1)"
  # Only the cluster that listens on the asked-for port can help.
  if [ "${cluster_port:-5432}" = "$port" ]; then
    echo "postgres: nothing answers at $host:$port; starting the machine's cluster $version/main"
    if pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
      for _ in $(seq 1 30); do
        if answers; then echo "postgres: answering at $host:$port"; exit 0; fi
        sleep 1
      done
    fi
  fi
fi

cat >&2 <<MSG
postgres: no server answers at $host:$port.
  - On a Debian machine with PostgreSQL installed: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start
  - Or install it: apt-get install -y postgresql, then the command above.
  - Or point DATABASE_URL at a reachable server (trust or password auth), e.g. postgres://user:pass@host:5432/asana_stream
MSG
exit 1
