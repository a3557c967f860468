#!/usr/bin/env bash
# Starts (or stops) real Redis topologies on loopback for the tests: a Redis Cluster of 6 nodes (3 masters,
# 3 replicas) and a Sentinel set (1 master, 1 replica, 3 sentinels). Every process writes its pid file under
# DIR and is stopped by that PID.
#
#   scripts/redis-topologies.sh start [cluster|sentinel|all]   # prints the export lines of the URLs
#   scripts/redis-topologies.sh stop
#   scripts/redis-topologies.sh restart-node PORT              # a killed node again, with its own config
#
# REDIS_TOPOLOGY_DIR (default /tmp/entra-verifier-redis) and REDIS_TOPOLOGY_BASE_PORT (default 7100) keep
# several sets apart: cluster nodes on BASE+1..BASE+6, the Sentinel master on BASE+11, its replica on
# BASE+12, the sentinels on BASE+21..BASE+23. Exported: REDIS_CLUSTER_URL, REDIS_SENTINEL_URL.
# REDIS_TOPOLOGY_AOF=always gives every server an append-only file fsynced at every write.
set -euo pipefail

dir="${REDIS_TOPOLOGY_DIR:-/tmp/entra-verifier-redis}"
base="${REDIS_TOPOLOGY_BASE_PORT:-7100}"
aof="${REDIS_TOPOLOGY_AOF:-}"
host=127.0.0.1

die() { echo "redis-topologies: $*" >&2; exit 1; }
cli() { timeout 5 redis-cli -h "$host" -p "$1" "${@:2}"; }

# wait_for TRIES CMD…: runs CMD every 0.1 s until it succeeds.
wait_for() {
  local tries=$1; shift
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

persistence() {
  if [ "$aof" = always ]; then echo "--appendonly yes --appendfsync always --save ''"; else echo "--appendonly no --save ''"; fi
}

server() { # server PORT EXTRA…
  local port=$1; shift
  mkdir -p "$dir/$port"
  eval redis-server --port "$port" --bind "$host" --daemonize yes --dir "$dir/$port" \
    --pidfile "$dir/$port/pid" --logfile "$dir/$port/log" --repl-diskless-sync-delay 0 "$(persistence)" "$@"
  # 30 s: under a loaded CI machine (tests running beside it) a fresh server can take seconds to answer
  wait_for 300 pong "$port" || die_log "$port" "redis-server on $port does not answer after 30 s"
}

# pong PORT: the server on PORT answers PING now (a function, so that wait_for asks again at every try:
# `wait_for N test "$(cli …)" = PONG` would have run redis-cli once, before the first try).
pong() { [ "$(cli "$1" ping 2>/dev/null)" = PONG ]; }

# die_log PORT MESSAGE: dies with MESSAGE and the last lines of the server's log.
die_log() {
  echo "redis-topologies: $2; last lines of $dir/$1/log:" >&2
  tail -n 20 "$dir/$1/log" >&2 2>/dev/null || echo "(no log)" >&2
  exit 1
}

cluster_ok() { cli "$1" cluster info | grep -q 'cluster_state:ok'; }

start_cluster() {
  local ports=() p
  for i in 1 2 3 4 5 6; do
    p=$((base + i)); ports+=("$host:$p")
    if [ -f "$dir/$p/nodes.conf" ]; then die "cluster node $p already set up under $dir (stop first)"; fi
    server "$p" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000
  done
  redis-cli --cluster create "${ports[@]}" --cluster-replicas 1 --cluster-yes >"$dir/cluster-create.log" 2>&1 ||
    die "cluster create failed: $(tail -5 "$dir/cluster-create.log")"
  for i in 1 2 3 4 5 6; do
    wait_for 300 cluster_ok $((base + i)) || die_log $((base + i)) "cluster not ok on $((base + i))"
  done
  wait_for 300 sh -c "timeout 5 redis-cli --cluster check $host:$((base + 1)) | grep -q 'All nodes agree'" ||
    die "cluster nodes do not agree about the slots"
  # every master has its replica attached and in sync (WAIT 1 needs it)
  for i in 1 2 3 4 5 6; do
    p=$((base + i))
    wait_for 300 sh -c "timeout 5 redis-cli -h $host -p $p info replication | grep -Eq 'role:slave|state=online'" ||
      die_log "$p" "node $p: no replica in sync"
  done
}

sentinel_ready() {
  local s=$1
  [ "$(cli "$s" sentinel replicas mymaster | grep -c '^ip$')" -ge 1 ] &&
    cli "$s" sentinel ckquorum mymaster | grep -q '^OK'
}

start_sentinel() {
  local m=$((base + 11)) r=$((base + 12)) s
  server "$m"
  server "$r" --replicaof "$host" "$m"
  wait_for 300 sh -c "timeout 5 redis-cli -h $host -p $r info replication | grep -q 'master_link_status:up'" || die_log "$r" "replica $r not in sync"
  for i in 21 22 23; do
    s=$((base + i)); mkdir -p "$dir/$s"
    cat >"$dir/$s/sentinel.conf" <<CONF
port $s
bind $host
daemonize yes
dir $dir/$s
pidfile $dir/$s/pid
logfile $dir/$s/log
sentinel monitor mymaster $host $m 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 4000
sentinel parallel-syncs mymaster 1
CONF
    redis-server "$dir/$s/sentinel.conf" --sentinel
  done
  for i in 21 22 23; do
    wait_for 300 sentinel_ready $((base + i)) || die_log $((base + i)) "sentinel $((base + i)) does not see the master and its replica"
  done
}

urls() {
  echo "export REDIS_CLUSTER_URL='redis://$host:$((base + 1))?addr=$host:$((base + 2))&addr=$host:$((base + 3))'"
  echo "export REDIS_SENTINEL_URL='redis://$host:$((base + 21))/0?master_name=mymaster&addr=$host:$((base + 22))&addr=$host:$((base + 23))'"
}

stop() {
  [ -d "$dir" ] || return 0
  local pid f
  for f in "$dir"/*/pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
  done
  for f in "$dir"/*/pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

command -v redis-server >/dev/null || die "redis-server is not installed"
case "${1:-}" in
  start)
    mkdir -p "$dir"
    case "${2:-all}" in
      cluster) start_cluster ;;
      sentinel) start_sentinel ;;
      all) start_cluster; start_sentinel ;;
      *) die "start cluster|sentinel|all" ;;
    esac
    urls
    ;;
  stop) stop ;;
  restart-node)
    p="${2:?port}"
    if [ -f "$dir/$p/sentinel.conf" ]; then redis-server "$dir/$p/sentinel.conf" --sentinel
    elif [ -f "$dir/$p/nodes.conf" ]; then server "$p" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000
    elif [ "$p" = $((base + 12)) ] || [ "$p" = $((base + 11)) ]; then
      # back as a replica of the current master, as an orchestrator asking Sentinel would start it (Sentinel
      # itself would convert a returning old master too, but only after its ~10 s info period)
      m=$(cli $((base + 21)) sentinel get-master-addr-by-name mymaster | tail -1)
      if [ "$m" = "$p" ]; then server "$p"; else server "$p" --replicaof "$host" "$m"; fi
    else die "no node $p under $dir"; fi
    ;;
  urls) urls ;;
  *) die "usage: $0 start [cluster|sentinel|all] | stop | restart-node PORT | urls" ;;
esac
