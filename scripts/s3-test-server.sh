#!/usr/bin/env bash
# Throw-away single-node Ceph (1 mon, 1 memstore OSD) + radosgw on loopback: a real
# S3 server that checks SigV4, standing in for Garage in tests. All state lives in DIR.
#
#   scripts/s3-test-server.sh start [DIR]   # prints `export TDF_TEST_S3_*=...` lines on stdout
#   scripts/s3-test-server.sh env   [DIR]   # prints them again for a running server
#   scripts/s3-test-server.sh stop  [DIR]   # kills the daemons and removes DIR
#
# Usage: eval "$(scripts/s3-test-server.sh start)"
set -euo pipefail

cmd=${1:-}
DIR=${2:-${TDF_TEST_S3_DIR:-/tmp/tdf-s3-test}}
PORT=${TDF_TEST_S3_PORT:-7480}
MON_PORT=$((PORT + 1)) # next to rgw's port, away from the OSD range (6800-7300)
# Every ceph tool reads this instead of /etc/ceph/ceph.conf.
export CEPH_CONF=$DIR/ceph.conf

log() { echo "s3-test-server: $*" >&2; }

# Waits until CMD succeeds; fails with the tail of DAEMON's log after SECS, or
# early once DAEMON has died (given a few seconds to write its pid file).
wait_for() { # SECS DAEMON CMD...
  local secs=$1 name=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= start + secs)) || { ((SECONDS > start + 5)) && ! running "$DIR/run/$name.pid"; }; then
      log "$name did not come up; last lines of $DIR/log/$name.log:"
      tail -n 40 "$DIR/log/$name.log" >&2 || true
      log "run '$0 stop $DIR' to clean up"
      exit 1
    fi
    sleep 1
  done
}

# Anonymous ListBuckets: proves it is rgw answering, not something else on PORT.
s3_answers() { curl -sf --max-time 5 "http://127.0.0.1:$PORT/" | grep -q ListAllMyBucketsResult; }

osd_up() { [[ $(timeout 10 ceph osd stat -f json) == *'"num_up_osds":1,'* ]]; }

running() { # pid file holds a live ceph daemon (not a zombie or a recycled pid)
  local pid stat
  pid=$(cat "$1" 2>/dev/null) || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $stat =~ ^$pid\ \((ceph-mon|ceph-osd|radosgw)\)\ [^Z] ]]
}

stop() {
  local f
  # SIGKILL: all state is thrown away, and a TERMed memstore OSD would first dump its
  # whole store to disk.
  for f in "$DIR"/run/{client.rgw,osd.0,mon.a}.pid; do
    running "$f" && kill -9 "$(cat "$f")"
    for _ in $(seq 50); do running "$f" || break; sleep 0.2; done
  done
  # Only ever delete a directory this script made.
  if [[ -e $DIR && ! -f $DIR/ceph.conf && -n $(ls -A "$DIR") ]]; then
    log "$DIR has no ceph.conf; not removing it"
    return 1
  fi
  rm -rf "$DIR"
}

install_packages() {
  local pkgs=(ceph-mon ceph-osd radosgw ceph-common)
  command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null && command -v radosgw >/dev/null && return
  log "installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${pkgs[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${pkgs[@]}" >&2; }
}

start() {
  if running "$DIR/run/client.rgw.pid" && [[ -f $DIR/env ]] && s3_answers; then
    cat "$DIR/env"
    return
  fi
  install_packages
  [[ -e $DIR ]] && stop # leftovers of a crashed or half-made cluster
  mkdir -p "$DIR"/{log,run,mon,osd}

  # \$name is ceph's own metavariable (mon.a, osd.0, client.rgw, ...).
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $DIR/run
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0

[mon]
mon data = $DIR/mon/\$name

[osd]
osd data = $DIR/osd/\$name
osd objectstore = memstore
memstore device bytes = 4294967296

[client]
keyring = $DIR/\$name.keyring

[client.rgw]
# tcp_nodelay: without it, small responses on a kept-alive connection wait ~40 ms for a delayed ACK.
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
# rgw reclaims the data of deleted and overwritten objects hours later by default; the memstore OSD
# keeps everything in RAM, so reclaim within seconds or a benchmark fills it and writes block.
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw gc processor max time = 5
EOF

  log "starting mon"
  ceph-authtool -C "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool -C "$DIR/client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/client.admin.keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" >&2
  ceph-mon -i a
  wait_for 30 mon.a timeout 10 ceph mon stat

  log "starting osd"
  local uuid key
  uuid=$(cat /proc/sys/kernel/random/uuid)
  key=$(ceph-authtool --gen-print-key)
  echo "{\"cephx_secret\": \"$key\"}" | ceph osd new "$uuid" -i - >/dev/null
  mkdir -p "$DIR/osd/osd.0"
  ceph-authtool -C "$DIR/osd/osd.0/keyring" -n osd.0 --add-key "$key" >/dev/null
  ceph-osd -i 0 --mkfs --osd-uuid "$uuid" >&2
  ceph-osd -i 0
  wait_for 60 osd.0 osd_up

  # Garage-style key pair, new for every cluster.
  local access secret
  access=GK$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  radosgw-admin user create --uid=tdf-test --display-name="tdf test" \
    --access-key="$access" --secret-key="$secret" >/dev/null

  # Garage's region is "garage"; S3 clients send it as CreateBucket's
  # LocationConstraint, which rgw only accepts if it is the zonegroup's api_name.
  # (No realm, so no period to commit; user create above made the zonegroup.)
  radosgw-admin zonegroup modify --rgw-zonegroup=default --api-name=garage >/dev/null

  log "starting radosgw on 127.0.0.1:$PORT"
  ceph auth get-or-create client.rgw mon 'allow rw' osd 'allow rwx' -o "$DIR/client.rgw.keyring"
  radosgw -n client.rgw
  wait_for 90 client.rgw s3_answers

  # The env file holds the test secret: readable by its owner only.
  (umask 077 && cat >"$DIR/env") <<EOF
export TDF_TEST_S3_ENDPOINT=http://127.0.0.1:$PORT
export TDF_TEST_S3_REGION=garage
export TDF_TEST_S3_ACCESS_KEY_ID=$access
export TDF_TEST_S3_SECRET_ACCESS_KEY=$secret
EOF
  log "ready"
  cat "$DIR/env"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  env)
    running "$DIR/run/client.rgw.pid" || { log "no server running in $DIR"; exit 1; }
    cat "$DIR/env"
    ;;
  *)
    echo "usage: $0 start|stop|env [DIR]" >&2
    exit 2
    ;;
esac
