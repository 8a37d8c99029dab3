#!/usr/bin/env bash
# Throw-away PostgreSQL cluster on loopback for the forecast sink's tests: password (SCRAM) auth, a
# superuser `tdf` with a random password, a database `tdf_test`. All state lives in DIR.
#
#   scripts/postgres-test-server.sh start [DIR]   # prints `export TDF_TEST_DATABASE_URL=...` on stdout
#   scripts/postgres-test-server.sh env   [DIR]   # prints it again for a running server
#   scripts/postgres-test-server.sh stop  [DIR]   # stops the server and removes DIR
#
# Usage: eval "$(scripts/postgres-test-server.sh start)"
# The port is TDF_TEST_PG_PORT; when that is not set, the first free port from 55432 up.
set -euo pipefail

cmd=${1:-}
DIR=${2:-${TDF_TEST_PG_DIR:-/tmp/tdf-pg-test}}
DATA=$DIR/data
MARKER=$DIR/tdf-postgres-test-server

log() { echo "postgres-test-server: $*" >&2; }

# initdb and postgres refuse to run as root: as root, the cluster belongs to the `postgres` user.
as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() { # the newest installed server's binaries
  local dir
  dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -n $dir && -x $dir/initdb ]] && echo "$dir"
}

install_packages() {
  bindir >/dev/null && return
  log "installing postgresql"
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo DEBIAN_FRONTEND=noninteractive)
  export DEBIAN_FRONTEND=noninteractive
  # Only the binaries are used; the cluster the package may start on 5432 is left alone.
  "${sudo[@]}" apt-get install -y --no-install-recommends postgresql >&2 ||
    { "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y --no-install-recommends postgresql >&2; }
}

port_in_use() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  if [[ -n ${TDF_TEST_PG_PORT:-} ]]; then
    port_in_use "$TDF_TEST_PG_PORT" && { log "port $TDF_TEST_PG_PORT (TDF_TEST_PG_PORT) is in use"; exit 1; }
    echo "$TDF_TEST_PG_PORT"
    return
  fi
  local port
  for port in $(seq 55432 55531); do
    port_in_use "$port" || { echo "$port"; return; }
  done
  log "no free port in 55432-55531; set TDF_TEST_PG_PORT"
  exit 1
}

running() { [[ -f $DATA/postmaster.pid ]] && as_owner "$(bindir)/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

stop() {
  if [[ -e $DIR && ! -f $MARKER && -n $(ls -A "$DIR") ]]; then
    log "$DIR was not made by this script; not touching it"
    return 1
  fi
  # Immediate: all state is thrown away, so there is nothing to shut down cleanly.
  if [[ -f $DATA/postmaster.pid ]] && bindir >/dev/null; then
    as_owner "$(bindir)/pg_ctl" stop -D "$DATA" -m immediate -w >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}

start() {
  if [[ -f $DIR/env ]] && running; then
    cat "$DIR/env"
    return
  fi
  install_packages
  local bin port password
  bin=$(bindir)
  [[ -e $DIR ]] && stop # leftovers of a crashed or half-made cluster
  port=$(pick_port)
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

  mkdir -p "$DIR"
  touch "$MARKER"
  if [[ $(id -u) == 0 ]]; then
    chown postgres: "$DIR"
    runuser -u postgres -- test -x "$DIR" || {
      log "the postgres user cannot enter $DIR; choose a folder under /tmp"
      exit 1
    }
  fi
  (umask 077 && echo "$password" >"$DIR/pwfile")
  [[ $(id -u) == 0 ]] && chown postgres: "$DIR/pwfile"

  log "creating a cluster in $DATA"
  as_owner "$bin/initdb" -D "$DATA" -U tdf --pwfile="$DIR/pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || {
    tail -n 20 "$DIR/initdb.log" >&2
    exit 1
  }
  rm -f "$DIR/pwfile"

  # fsync off: a throw-away cluster need not survive a power cut, and tests should not wait on disks.
  log "starting on 127.0.0.1:$port"
  as_owner "$bin/pg_ctl" start -D "$DATA" -w -t 60 -l "$DIR/postgres.log" \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$DIR' -c fsync=off -c full_page_writes=off -c max_connections=50" \
    >/dev/null || {
    tail -n 20 "$DIR/postgres.log" >&2
    exit 1
  }
  PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$port" -U tdf tdf_test

  # The env file holds the test password: readable by its owner only.
  (umask 077 && echo "export TDF_TEST_DATABASE_URL=postgres://tdf:$password@127.0.0.1:$port/tdf_test" >"$DIR/env")
  log "ready"
  cat "$DIR/env"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  env)
    running || { log "no server running in $DIR"; exit 1; }
    cat "$DIR/env"
    ;;
  *)
    echo "usage: $0 start|stop|env [DIR]" >&2
    exit 2
    ;;
esac
