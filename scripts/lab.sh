#!/usr/bin/env bash
# scripts/lab.sh — the embedded dbpecker lab: a 3-node MariaDB Galera cluster
# on this machine (Debian mariadb-server + galera-4 + rsync state transfer),
# plus Prometheus scraping the daemon.  Full documentation: docs/lab.md.
#
# Usage:
#   scripts/lab.sh start [--nodes 1|2|3]   bring the lab up (idempotent, < 90 s cold)
#   scripts/lab.sh stop                    stop everything, keep the datadirs
#   scripts/lab.sh status [--json]         report; exit 0 only when healthy
#   scripts/lab.sh reset                   stop + wipe the lab folder
#   scripts/lab.sh node-stop N             stop node N cleanly
#   scripts/lab.sh node-start N            start node N (rejoins by IST/SST)
#   scripts/lab.sh scrape-target HOST:PORT point Prometheus' dbpecker job elsewhere
#   scripts/lab.sh exec N -- CMD [ARG]...  run CMD inside node N's netns + cgroups
#   scripts/lab.sh sql N [MARIADB-ARG]...  mariadb client as user dbpecker over TCP
#   scripts/lab.sh env                     print $LAB/lab.env
#
# Environment:
#   DBPECKER_LAB_DIR        lab folder (default: <repo>/.lab)
#   DBPECKER_LAB_ISOLATION  auto|on|off (default auto: on when root and
#                           netns + cgroups work)
#   DBPECKER_PROM_PORT      Prometheus port on 127.0.0.1 (default 19090)
#   DBPECKER_SCRAPE_TARGET  daemon address Prometheus scrapes (default 127.0.0.1:8000)
#
# Layout.  Isolation on: namespaces dbp-node1..3, each with eth0 =
# 10.213.0.1N/24, veth dbp-vethN on bridge dbpbr0 (10.213.0.1/24 in the root
# namespace); MariaDB on 10.213.0.1N:3306, Galera 4567, IST 4568, SST 4444;
# cgroup v1 dirs /sys/fs/cgroup/{cpu,cpuacct,blkio,memory}/dbpecker-lab/nodeN
# (cgroup v2: /sys/fs/cgroup/dbpecker-lab/nodeN).  Isolation off: 127.0.0.1,
# MariaDB 33061..33063, Galera 24510/24520/24530, IST +1, SST +2.
#
# Fault hooks (verified on Debian 12, cgroup v1, kernel without netem):
#   network, slow one node (egress of node 2 only):
#     ip netns exec dbp-node2 tc qdisc add dev eth0 root tbf rate 1mbit burst 32kb latency 400ms
#     ip netns exec dbp-node2 tc qdisc del dev eth0 root
#   network, drop N% of one node's packets:
#     ip netns exec dbp-node2 nft add table inet dbpecker_fault
#     ip netns exec dbp-node2 nft 'add chain inet dbpecker_fault out { type filter hook output priority 0; }'
#     ip netns exec dbp-node2 nft 'add rule inet dbpecker_fault out numgen random mod 100 < 30 drop'
#     ip netns exec dbp-node2 nft delete table inet dbpecker_fault
#     (N in "< N" must be 1..99; for 100 % leave numgen out.  Add "tcp sport
#     3306" before numgen to hit client traffic but not Galera's.)
#   CPU quota (20% of one CPU) on node 3, and undo:
#     echo 20000 > /sys/fs/cgroup/cpu/dbpecker-lab/node3/cpu.cfs_quota_us
#     echo -1    > /sys/fs/cgroup/cpu/dbpecker-lab/node3/cpu.cfs_quota_us
#   CPU / IO stress confined to node 3 (the command joins the cgroups first):
#     scripts/lab.sh exec 3 -- stress-ng --cpu 2 --timeout 30s
#     sh -c 'echo $$ > /sys/fs/cgroup/cpu/dbpecker-lab/node3/cgroup.procs && exec stress-ng --cpu 2 --timeout 30s'
#   IO throttle (LAB_DATA_BLKDEV in lab.env is MAJ:MIN of the datadir disk):
#     echo "254:0 1048576" > /sys/fs/cgroup/blkio/dbpecker-lab/node2/blkio.throttle.write_bps_device
#     echo "254:0 0"       > /sys/fs/cgroup/blkio/dbpecker-lab/node2/blkio.throttle.write_bps_device
set -euo pipefail
umask 022
PATH=$PATH:/usr/sbin:/sbin
export PATH

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(dirname "$SCRIPT_DIR")
LAB=$(realpath -m -- "${DBPECKER_LAB_DIR:-$REPO_DIR/.lab}")
PROM_PORT_DEFAULT=${DBPECKER_PROM_PORT:-19090}
SCRAPE_TARGET_DEFAULT=${DBPECKER_SCRAPE_TARGET:-127.0.0.1:8000}

BRIDGE=dbpbr0
NET_PREFIX=10.213.0
HOST_IP=$NET_PREFIX.1
CG_BASE=dbpecker-lab
MAX_NODES=3
CG_V1_CONTROLLERS=(cpu cpuacct blkio memory)
ALL_FAULTS=(cpu_stress io_bottleneck network_bottleneck cache_bottleneck too_many_indexes workload_surge lock_contention connection_storm)
JOIN_TIMEOUT=${DBPECKER_LAB_JOIN_TIMEOUT:-120}
STOP_TIMEOUT=${DBPECKER_LAB_STOP_TIMEOUT:-60}
GALERA_LIB=

if [ "$(id -u)" -eq 0 ]; then IS_ROOT=1; else IS_ROOT=0; fi

# ---------------------------------------------------------------- helpers --
log()  { printf '[lab] %s\n' "$*" >&2; }
warn() { printf '[lab] warning: %s\n' "$*" >&2; }
die()  { printf 'lab.sh: error: %s\n' "$*" >&2; exit 1; }

now_ms() { date +%s%3N; }

mysql_bin() { command -v mariadb || command -v mysql || die "mariadb client not found"; }

galera_lib() {
  local f
  for f in /usr/lib/galera/libgalera_smm.so /usr/lib/galera-4/libgalera_smm.so /usr/lib/libgalera_smm.so; do
    [ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
  done
  return 1
}

# pids_with_cmdline STRING [COMM-PREFIX...]: processes whose command line
# contains STRING literally (and, if given, whose comm starts with a prefix).
pids_with_cmdline() {
  local needle=$1; shift
  local pid cmd comm p ok
  for pid in $(pgrep -f -- "$(printf '%s' "$needle" | sed 's/[][\.*^$+?(){}|]/./g')" 2>/dev/null || true); do
    [ "$pid" = "$$" ] && continue
    [ "$pid" = "$BASHPID" ] && continue
    cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") || continue
    case "$cmd" in *"$needle"*) ;; *) continue ;; esac
    if [ $# -gt 0 ]; then
      comm=$(cat 2>/dev/null "/proc/$pid/comm") || continue
      ok=0
      for p in "$@"; do case "$comm" in "$p"*) ok=1 ;; esac; done
      [ "$ok" = 1 ] || continue
    fi
    printf '%s\n' "$pid"
  done
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# kill_pids SIGNAL-WAIT-SECONDS PID...: TERM, wait, then KILL.
kill_pids() {
  local wait_s=$1; shift
  local pid alive deadline
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  deadline=$(( $(date +%s) + wait_s ))
  while :; do
    alive=()
    for pid in "$@"; do pid_alive "$pid" && alive+=("$pid"); done
    [ ${#alive[@]} -eq 0 ] && return 0
    [ "$(date +%s)" -ge "$deadline" ] && break
    sleep 0.2
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
  sleep 0.2
}

json_str() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# ------------------------------------------------------------ lab folder --
# Node folders live in $LAB/nodeN unless the mysql user cannot traverse the
# path to $LAB; then they live in /var/lib/dbpecker-lab/<hash> and
# $LAB/nodeN is a symlink to them (nodes.yaml records the real path).
data_root() {
  if [ -L "$LAB/node1" ]; then
    dirname "$(readlink -f "$LAB/node1")"
  else
    printf '%s\n' "$LAB"
  fi
}

relocated_root() {
  printf '/var/lib/dbpecker-lab/%s\n' "$(printf '%s' "$LAB" | sha256sum | cut -c1-12)"
}

choose_data_root() {
  local alt n
  if [ -L "$LAB/node1" ] || [ "$IS_ROOT" = 0 ] || ! id mysql >/dev/null 2>&1; then
    return 0
  fi
  if [ -d "$LAB/node1" ]; then return 0; fi
  if setpriv --reuid=mysql --regid=mysql --clear-groups test -x "$LAB" 2>/dev/null; then
    return 0
  fi
  alt=$(relocated_root)
  log "the mysql user cannot traverse $LAB; node folders go to $alt (symlinked from $LAB/nodeN)"
  mkdir -p "$alt"
  chmod 0755 /var/lib/dbpecker-lab "$alt"
  for n in $(seq 1 "$MAX_NODES"); do
    mkdir -p "$alt/node$n"
    ln -sfn "$alt/node$n" "$LAB/node$n"
  done
}

node_dir()  { printf '%s/node%s\n' "$DATA_ROOT" "$1"; }
node_data() { printf '%s/node%s/data\n' "$DATA_ROOT" "$1"; }
node_cnf()  { printf '%s/node%s/my.cnf\n' "$DATA_ROOT" "$1"; }
node_sock() { printf '%s/node%s/mariadbd.sock\n' "$DATA_ROOT" "$1"; }
node_pidf() { printf '%s/node%s/mariadbd.pid\n' "$DATA_ROOT" "$1"; }
node_elog() { printf '%s/node%s/error.log\n' "$DATA_ROOT" "$1"; }
node_ns()   { printf 'dbp-node%s\n' "$1"; }
node_veth() { printf 'dbp-veth%s\n' "$1"; }

node_host() { if [ "$ISO" = on ]; then printf '%s.1%s\n' "$NET_PREFIX" "$1"; else printf '127.0.0.1\n'; fi; }
node_port() { if [ "$ISO" = on ]; then printf '3306\n'; else printf '3306%s\n' "$1"; fi; }
node_gport() { if [ "$ISO" = on ]; then printf '4567\n'; else printf '%s\n' $((24500 + 10 * $1)); fi; }
node_istport() { if [ "$ISO" = on ]; then printf '4568\n'; else printf '%s\n' $((24501 + 10 * $1)); fi; }
node_sstport() { if [ "$ISO" = on ]; then printf '4444\n'; else printf '%s\n' $((24502 + 10 * $1)); fi; }

env_get() { # KEY -> value recorded in lab.env (empty if none)
  [ -f "$LAB/lab.env" ] || return 0
  # shellcheck disable=SC1091
  ( . "$LAB/lab.env" >/dev/null 2>&1; printf '%s' "${!1:-}" )
}

# ------------------------------------------------------------------ deps --
check_deps() {
  local missing=() b
  for b in mariadbd mariadb mariadb-install-db rsync prometheus stress-ng sysbench wsrep_sst_rsync \
           ip tc nft pgrep setpriv flock; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  galera_lib >/dev/null || missing+=("libgalera_smm.so")
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$IS_ROOT" = 1 ] && [ -x "$SCRIPT_DIR/install-deps.sh" ]; then
    log "missing: ${missing[*]} — running scripts/install-deps.sh lab"
    "$SCRIPT_DIR/install-deps.sh" lab
    missing=()
    for b in mariadbd mariadb mariadb-install-db rsync prometheus wsrep_sst_rsync ip pgrep setpriv flock; do
      command -v "$b" >/dev/null 2>&1 || missing+=("$b")
    done
    galera_lib >/dev/null || missing+=("libgalera_smm.so")
    [ ${#missing[@]} -eq 0 ] || die "still missing after install-deps: ${missing[*]}"
  else
    die "missing: ${missing[*]}; run 'sudo scripts/install-deps.sh lab'"
  fi
}

# --------------------------------------------------------------- cgroups --
# CG_VERSION: 1 (v1 controllers), 2 (unified with cpu), or "" (none usable).
CG_VERSION=
CG_MOUNTS=()   # v1: unique mount points of cpu/cpuacct/blkio/memory
detect_cgroups() {
  local c mp opts seen m
  CG_VERSION=; CG_MOUNTS=()
  for c in "${CG_V1_CONTROLLERS[@]}"; do
    while read -r _ mp fstype opts _; do
      [ "$fstype" = cgroup ] || continue
      case ",$opts," in *",$c,"*) ;; *) continue ;; esac
      seen=0
      for m in "${CG_MOUNTS[@]}"; do [ "$m" = "$mp" ] && seen=1; done
      [ "$seen" = 1 ] || CG_MOUNTS+=("$mp")
    done < /proc/mounts
  done
  if [ ${#CG_MOUNTS[@]} -gt 0 ] && [ -f "${CG_MOUNTS[0]}/cgroup.procs" ]; then
    for m in "${CG_MOUNTS[@]}"; do
      case "$m" in */cpu|*/cpu,*|*,cpu|*,cpu,*) CG_VERSION=1 ;; esac
    done
    # only usable for confinement when the cpu controller is there
    [ "$CG_VERSION" = 1 ] || CG_MOUNTS=()
  fi
  if [ -z "$CG_VERSION" ] && [ -f /sys/fs/cgroup/cgroup.controllers ] &&
     grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
    CG_VERSION=2
  fi
}

cg_node_dirs() { # N -> one dir per line
  local m
  case "$CG_VERSION" in
    1) for m in "${CG_MOUNTS[@]}"; do printf '%s/%s/node%s\n' "$m" "$CG_BASE" "$1"; done ;;
    2) printf '/sys/fs/cgroup/%s/node%s\n' "$CG_BASE" "$1" ;;
  esac
}

cg_setup() { # N...
  local n d want c
  if [ "$CG_VERSION" = 2 ]; then
    mkdir -p "/sys/fs/cgroup/$CG_BASE"
    want=
    for c in cpu io memory; do
      grep -qw "$c" /sys/fs/cgroup/cgroup.controllers && want="$want +$c"
    done
    # shellcheck disable=SC2086
    for c in $want; do
      echo "$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
      echo "$c" > "/sys/fs/cgroup/$CG_BASE/cgroup.subtree_control" 2>/dev/null || true
    done
  fi
  for n in "$@"; do
    while read -r d; do
      [ -n "$d" ] || continue
      mkdir -p "$d" || return 1
    done < <(cg_node_dirs "$n")
  done
}

# Linux >= 6.12 initialises blk-throttle for a disk only when a throttle
# rule is first configured on it; until then cgroup v1's
# blkio.throttle.io_service_bytes stays 0 for every cgroup, whatever I/O
# its tasks do.  That made a fresh machine's first io_bottleneck case read
# "0.0 MB/s" (a re-run passed: the isolation test had set a rule meanwhile).
# Configure a no-op rule (a huge limit, then none) so the counters work.
cg_activate_blkio() { # N (any lab node)
  local dev d
  [ "$CG_VERSION" = 1 ] || return 0
  dev=$(data_blkdev)
  [ -n "$dev" ] || return 0
  for d in /sys/fs/cgroup/blkio/"$CG_BASE/node$1" /sys/fs/cgroup/blkio,*/"$CG_BASE/node$1"; do
    [ -f "$d/blkio.throttle.read_bps_device" ] || continue
    echo "$dev 1099511627776" > "$d/blkio.throttle.read_bps_device" 2>/dev/null || true
    echo "$dev 0" > "$d/blkio.throttle.read_bps_device" 2>/dev/null || true
  done
}

cg_join() { # N: move the calling (sub)shell into node N's cgroups
  local d
  while read -r d; do
    [ -n "$d" ] || continue
    printf '%s\n' "$BASHPID" > "$d/cgroup.procs"
  done < <(cg_node_dirs "$1")
}

# every lab cgroup dir that exists, whatever the mode (children first)
cg_existing_dirs() {
  local base d
  for base in /sys/fs/cgroup/*/"$CG_BASE" /sys/fs/cgroup/"$CG_BASE"; do
    [ -d "$base" ] || continue
    for d in "$base"/node*; do
      if [ -d "$d" ]; then printf '%s\n' "$d"; fi
    done
    printf '%s\n' "$base"
  done
}

cg_pids_of_node() { # N -> pids in any of node N's cgroup dirs
  local d
  for d in /sys/fs/cgroup/*/"$CG_BASE/node$1" /sys/fs/cgroup/"$CG_BASE/node$1"; do
    if [ -f "$d/cgroup.procs" ]; then cat "$d/cgroup.procs"; fi
  done | sort -un
}

cg_teardown() {
  local d pids
  [ "$IS_ROOT" = 1 ] || return 0
  pids=$(while read -r d; do cat "$d/cgroup.procs" 2>/dev/null || true; done < <(cg_existing_dirs) | sort -un)
  if [ -n "$pids" ]; then
    log "killing leftover processes in lab cgroups: $(echo "$pids" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill_pids 5 $pids
  fi
  local left
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    left=0
    while read -r d; do
      rmdir "$d" 2>/dev/null || { [ -d "$d" ] && left=1; }
    done < <(cg_existing_dirs)
    [ "$left" = 0 ] && return 0
    sleep 0.3
  done
  warn "could not remove all lab cgroup dirs: $(cg_existing_dirs | tr '\n' ' ')"
}

# --------------------------------------------------------------- network --
ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF "$1"; }

net_setup() { # N...
  local n ns veth
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge || return 1
  ip addr replace "$HOST_IP/24" dev "$BRIDGE" || return 1
  ip link set "$BRIDGE" up || return 1
  for n in "$@"; do
    ns=$(node_ns "$n"); veth=$(node_veth "$n")
    ns_exists "$ns" || ip netns add "$ns" || return 1
    if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
      ip link del "$veth" >/dev/null 2>&1 || true
      ip link add "$veth" type veth peer name eth0 netns "$ns" || return 1
    fi
    ip link set "$veth" master "$BRIDGE" up || return 1
    ip -n "$ns" addr replace "$(node_host "$n")/24" dev eth0 || return 1
    ip -n "$ns" link set lo up || return 1
    ip -n "$ns" link set eth0 up || return 1
  done
}

net_teardown() {
  local ns pids n
  [ "$IS_ROOT" = 1 ] || return 0
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^dbp-node[0-9]+$' || true); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      log "killing leftover processes in netns $ns: $(echo "$pids" | tr '\n' ' ')"
      # shellcheck disable=SC2086
      kill_pids 5 $pids
    fi
    ip netns del "$ns" 2>/dev/null || warn "could not delete netns $ns"
  done
  for n in $(seq 1 "$MAX_NODES"); do
    ip link del "$(node_veth "$n")" >/dev/null 2>&1 || true
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE" || warn "could not delete bridge $BRIDGE"
  fi
  # nftables tables of ours in the root namespace (the fault hooks use
  # tables inside the node namespaces, which go away with them)
  if command -v nft >/dev/null 2>&1; then
    while read -r _ fam name; do
      case "$name" in dbpecker*|dbp_*) nft delete table "$fam" "$name" 2>/dev/null || true ;; esac
    done < <(nft list tables 2>/dev/null || true)
  fi
  for _ in 1 2 3 4 5; do
    ip link show "$BRIDGE" >/dev/null 2>&1 || break
    sleep 0.2
  done
}

# mariadbd processes in the dbp-node* namespaces that belong to another lab
# folder (only one isolated lab per machine: the names are fixed)
other_lab_pids() {
  local ns pid cmd
  [ "$IS_ROOT" = 1 ] || return 0
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^dbp-node[0-9]+$' || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
      cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") || continue
      case "$cmd" in
        *"--defaults-file=$DATA_ROOT/"*) ;;
        *--defaults-file=*) printf '%s\n' "$pid" ;;
      esac
    done
  done
}

# ------------------------------------------------------------- isolation --
ISO=off
ISO_REASON=
decide_isolation() { # sets ISO and ISO_REASON
  local want=${DBPECKER_LAB_ISOLATION:-auto}
  case "$want" in on|off|auto) ;; *) die "DBPECKER_LAB_ISOLATION must be auto, on or off (got '$want')" ;; esac
  detect_cgroups
  ISO=off
  if [ "$want" = off ]; then ISO_REASON="DBPECKER_LAB_ISOLATION=off"; return 0; fi
  if [ "$IS_ROOT" = 0 ]; then
    ISO_REASON="not root"
  elif ! command -v ip >/dev/null 2>&1 || [ ! -e /proc/self/ns/net ]; then
    ISO_REASON="no network namespace support (iproute2 / kernel)"
  elif [ -z "$CG_VERSION" ]; then
    ISO_REASON="no usable cgroup cpu controller"
  else
    ISO=on; ISO_REASON=; return 0
  fi
  [ "$want" = on ] && die "DBPECKER_LAB_ISOLATION=on but $ISO_REASON"
  return 0
}

# ---------------------------------------------------------------- nodes --
node_pid() { # N -> pid of its mariadbd, if running
  local n=$1 pid cnf
  cnf=$(node_cnf "$n")
  if [ -f "$(node_pidf "$n")" ]; then
    pid=$(tr -dc '0-9' < "$(node_pidf "$n")" 2>/dev/null || true)
    if pid_alive "$pid" && tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -qF -- "$cnf"; then
      printf '%s\n' "$pid"; return 0
    fi
  fi
  pids_with_cmdline "--defaults-file=$cnf" mariadbd mysqld | head -n1
}

node_sql() { # N [mariadb args...]: admin connection over the unix socket
  local n=$1; shift
  # unix_socket authentication: root@localhost when run as root; without
  # root, mariadb-install-db created <invoking user>@localhost the same way
  local user=root
  [ "$IS_ROOT" = 1 ] || user=$(id -un)
  "$MYSQL" --no-defaults --protocol=socket -S "$(node_sock "$n")" -u"$user" \
    --connect-timeout=3 -N -B "$@"
}

# node_state N -> "STATE SIZE STATUS" (STATE=down|unreachable|<wsrep state>)
node_state() {
  local n=$1 out state='?' size=0 status='?'
  if [ -z "$(node_pid "$n")" ]; then echo "down 0 -"; return 0; fi
  if ! out=$(node_sql "$n" -e "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('WSREP_LOCAL_STATE_COMMENT','WSREP_CLUSTER_SIZE','WSREP_CLUSTER_STATUS')" 2>&1); then
    case "$out" in *"Access denied"*) echo "access_denied 0 -" ;; *) echo "unreachable 0 -" ;; esac
    return 0
  fi
  while IFS=$'\t' read -r k v; do
    case "$k" in
      WSREP_LOCAL_STATE_COMMENT) state=$v ;;
      WSREP_CLUSTER_SIZE) size=$v ;;
      WSREP_CLUSTER_STATUS) status=$v ;;
    esac
  done <<< "$out"
  echo "${state// /_} ${size:-0} ${status// /_}"
}

node_is_primary_synced() {
  local s
  read -r -a s <<< "$(node_state "$1")"
  [ "${s[0]}" = Synced ] && [ "${s[2]}" = Primary ]
}

write_node_cnf() { # N NODES
  local n=$1 count=$2 i addrs="" host gport
  for i in $(seq 1 "$count"); do
    addrs="$addrs${addrs:+,}$(node_host "$i"):$(node_gport "$i")"
  done
  host=$(node_host "$n"); gport=$(node_gport "$n")
  {
    echo "# generated by scripts/lab.sh at each start; edits are overwritten"
    echo "[mysqld]"
    [ "$IS_ROOT" = 1 ] && echo "user=mysql"
    echo "datadir=$(node_data "$n")"
    echo "socket=$(node_sock "$n")"
    echo "pid-file=$(node_pidf "$n")"
    echo "log-error=$(node_elog "$n")"
    echo "port=$(node_port "$n")"
    echo "bind-address=$host"
    echo "skip-name-resolve"
    echo "max_connections=500"
    echo "innodb_buffer_pool_size=128M"
    echo "innodb_autoinc_lock_mode=2"
    echo "binlog_format=ROW"
    echo "default_storage_engine=InnoDB"
    echo "performance_schema=OFF"
    echo "wsrep_on=ON"
    echo "wsrep_provider=$GALERA_LIB"
    echo "wsrep_cluster_name=dbpecker-lab"
    echo "wsrep_cluster_address=gcomm://$addrs"
    echo "wsrep_node_name=node$n"
    echo "wsrep_node_address=$host:$gport"
    echo "wsrep_node_incoming_address=$host:$(node_port "$n")"
    echo "wsrep_sst_method=rsync"
    echo "wsrep_sst_receive_address=$host:$(node_sstport "$n")"
    echo "wsrep_slave_threads=2"
    echo "wsrep_provider_options=\"base_host=$host; base_port=$gport; gmcast.listen_addr=tcp://$host:$gport; ist.recv_addr=$host:$(node_istport "$n"); gcache.size=64M\""
  } > "$(node_cnf "$n").tmp"
  mv -f "$(node_cnf "$n").tmp" "$(node_cnf "$n")"
  chmod 0644 "$(node_cnf "$n")"
}

prepare_node_dir() { # N
  local n=$1 d
  d=$(node_dir "$n")
  mkdir -p "$d" "$(node_data "$n")"
  chmod 0755 "$d"
  if [ "$IS_ROOT" = 1 ]; then
    chown mysql:mysql "$d"
    # rsync SST fails when anything in the datadir is owned by root
    chown -R mysql:mysql "$(node_data "$n")"
  fi
  chmod 0750 "$(node_data "$n")"
}

init_datadir() { # N
  local n=$1 data
  data=$(node_data "$n")
  [ -d "$data/mysql" ] && return 0
  log "node$n: initialising $data"
  # initialise into data.init and rename, so that an interrupted start
  # never leaves a half-initialised datadir that looks complete
  local tmp="$data.init"
  rm -rf -- "$tmp"
  local args=(--no-defaults --datadir="$tmp" --auth-root-authentication-method=socket
              --skip-test-db --skip-name-resolve)
  if [ "$IS_ROOT" = 1 ]; then
    args+=(--user=mysql --auth-root-socket-user=root)
  else
    args+=(--auth-root-socket-user="$(id -un)")
  fi
  if ! mariadb-install-db "${args[@]}" > "$(node_dir "$n")/install.log" 2>&1 9>&-; then
    tail -n 20 "$(node_dir "$n")/install.log" >&2
    rm -rf -- "$tmp"
    die "node$n: mariadb-install-db failed (log: $(node_dir "$n")/install.log)"
  fi
  rm -rf -- "$data"
  mv -- "$tmp" "$data"
  chmod 0750 "$data"
}

set_safe_to_bootstrap() { # N
  local f
  f="$(node_data "$1")/grastate.dat"
  [ -f "$f" ] || return 0
  if grep -q '^safe_to_bootstrap: 0' "$f"; then
    # rewrite in place so owner and mode stay (mysql:mysql)
    local content
    content=$(sed 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$f")
    printf '%s\n' "$content" > "$f"
  fi
}

# leftovers of a node that is not running: SST helpers, processes in its
# netns or cgroups, stale pid file and socket
cleanup_node_leftovers() { # N
  local n=$1 pids
  pids=$( {
    pids_with_cmdline "$(node_dir "$n")/" rsync wsrep_sst sh mariadbd mysqld mariadb-install mysql_install stress-ng
    if [ "$IS_ROOT" = 1 ] && [ "$ISO" = on ]; then
      cg_pids_of_node "$n"
      if ns_exists "$(node_ns "$n")"; then ip netns pids "$(node_ns "$n")" 2>/dev/null || true; fi
    fi
  } | sort -un)
  if [ -n "$pids" ]; then
    log "node$n: killing leftover processes $(echo "$pids" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill_pids 5 $pids
  fi
  rm -f "$(node_pidf "$n")" "$(node_sock "$n")" "$(node_sock "$n").lock"
}

# close_inherited_fds: in a subshell about to exec a long-lived daemon,
# close every descriptor above 2.  A daemon that keeps a caller's fd keeps
# whatever that fd holds: a caller's flock(1) lock stayed held for as long
# as the lab ran (seen: `flock LOCK lab.sh start` blocked every later
# `flock LOCK` user).
close_inherited_fds() {
  local f n
  for f in /proc/$BASHPID/fd/*; do
    n=${f##*/}
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null
  done
  return 0
}

launch_node() { # N [extra mariadbd args...]
  local n=$1; shift
  local cnf out
  cnf=$(node_cnf "$n"); out="$(node_dir "$n")/mariadbd.out"
  if [ "$ISO" = on ]; then
    (
      cg_join "$n"
      close_inherited_fds
      exec setsid ip netns exec "$(node_ns "$n")" mariadbd --defaults-file="$cnf" "$@"
    ) < /dev/null >> "$out" 2>&1 9>&- &
  else
    ( close_inherited_fds; exec setsid mariadbd --defaults-file="$cnf" "$@" ) < /dev/null >> "$out" 2>&1 9>&- &
  fi
  disown 2>/dev/null || true
}

# wait_synced N TIMEOUT: 0 when Synced in a Primary component
wait_synced() {
  local n=$1 timeout=$2 t0 s seen_pid=0
  t0=$(date +%s)
  while :; do
    if [ -n "$(node_pid "$n")" ]; then
      seen_pid=1
      read -r -a s <<< "$(node_state "$n")"
      if [ "${s[0]}" = Synced ] && [ "${s[2]}" = Primary ]; then return 0; fi
      if [ "${s[0]}" = access_denied ]; then
        warn "node$n: root@localhost is refused over $(node_sock "$n") (the datadir was initialised by another OS user?)"
        return 1
      fi
    elif [ "$seen_pid" = 1 ] || [ $(( $(date +%s) - t0 )) -ge 10 ]; then
      warn "node$n: mariadbd is not running (last lines of $(node_elog "$n")):"
      tail -n 15 "$(node_elog "$n")" >&2 2>/dev/null || true
      return 1
    fi
    if [ $(( $(date +%s) - t0 )) -ge "$timeout" ]; then
      warn "node$n: not Synced after ${timeout}s (state: ${s[*]:-none}); last lines of $(node_elog "$n"):"
      tail -n 15 "$(node_elog "$n")" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.3
  done
}

stop_node() { # N
  local n=$1 pid
  pid=$(node_pid "$n")
  if [ -n "$pid" ]; then
    log "node$n: stopping mariadbd (pid $pid)"
    kill_pids "$STOP_TIMEOUT" "$pid"
  fi
  cleanup_node_leftovers "$n"
}

stop_nodes() { # N... stopped in parallel
  local n pids=()
  for n in "$@"; do
    stop_node "$n" &
    pids+=("$!")
  done
  for n in "${pids[@]}"; do wait "$n" || true; done
}

# -------------------------------------------------------------- secrets --
ensure_secrets() { # sets SECRETS_NEW=1 when passwords were created
  local sdir="$LAB/secrets" u pw
  SECRETS_NEW=0
  ( umask 077; mkdir -p "$sdir" )
  chmod 0700 "$sdir"
  for u in dbpecker bench; do
    if [ ! -s "$sdir/$u.password" ]; then
      pw=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
      ( umask 077; printf '%s' "$pw" > "$sdir/$u.password" )
      SECRETS_NEW=1
    fi
    pw=$(cat "$sdir/$u.password")
    ( umask 077
      printf '[client]\nuser=%s\npassword=%s\n' "$u" "$pw" > "$sdir/$u.cnf.tmp" )
    [ "$u" = dbpecker ] && mv -f "$sdir/$u.cnf.tmp" "$sdir/client.cnf"
    [ "$u" = bench ] && mv -f "$sdir/$u.cnf.tmp" "$sdir/bench.cnf"
  done
  chmod 0600 "$sdir"/*
}

apply_users() { # N (a Synced node)
  local n=$1 dbp bench have
  have=$(node_sql "$n" -e "SELECT (SELECT COUNT(*) FROM mysql.user WHERE User IN ('dbpecker','bench') AND Host IN ('%','localhost')) * 10 + (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('sbtest','tpcc','tpch'))" 2>/dev/null || echo 0)
  if [ "$SECRETS_NEW" = 0 ] && [ "$have" = 43 ]; then return 0; fi
  log "creating users dbpecker, bench and databases sbtest, tpcc, tpch"
  dbp=$(cat "$LAB/secrets/dbpecker.password")
  bench=$(cat "$LAB/secrets/bench.password")
  # SQL (with the passwords) goes through stdin, never the command line
  node_sql "$n" <<SQL
CREATE DATABASE IF NOT EXISTS sbtest;
CREATE DATABASE IF NOT EXISTS tpcc;
CREATE DATABASE IF NOT EXISTS tpch;
CREATE USER IF NOT EXISTS 'dbpecker'@'%' IDENTIFIED BY '$dbp';
CREATE USER IF NOT EXISTS 'dbpecker'@'localhost' IDENTIFIED BY '$dbp';
ALTER USER 'dbpecker'@'%' IDENTIFIED BY '$dbp';
ALTER USER 'dbpecker'@'localhost' IDENTIFIED BY '$dbp';
GRANT ALL PRIVILEGES ON *.* TO 'dbpecker'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'dbpecker'@'localhost' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'bench'@'%' IDENTIFIED BY '$bench';
CREATE USER IF NOT EXISTS 'bench'@'localhost' IDENTIFIED BY '$bench';
ALTER USER 'bench'@'%' IDENTIFIED BY '$bench';
ALTER USER 'bench'@'localhost' IDENTIFIED BY '$bench';
GRANT ALL PRIVILEGES ON sbtest.* TO 'bench'@'%';
GRANT ALL PRIVILEGES ON tpcc.* TO 'bench'@'%';
GRANT ALL PRIVILEGES ON tpch.* TO 'bench'@'%';
GRANT ALL PRIVILEGES ON sbtest.* TO 'bench'@'localhost';
GRANT ALL PRIVILEGES ON tpcc.* TO 'bench'@'localhost';
GRANT ALL PRIVILEGES ON tpch.* TO 'bench'@'localhost';
SQL
}

# ----------------------------------------------------------- prometheus --
prom_dir() { printf '%s/prometheus\n' "$LAB"; }
prom_port() { local p; p=$(env_get LAB_PROM_PORT); printf '%s\n' "${p:-$PROM_PORT_DEFAULT}"; }

prom_pid() {
  local f pid
  f="$(prom_dir)/prometheus.pid"
  if [ -f "$f" ]; then
    pid=$(tr -dc '0-9' < "$f")
    if pid_alive "$pid" && tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -qF -- "$(prom_dir)/prometheus.yml"; then
      printf '%s\n' "$pid"; return 0
    fi
  fi
  pids_with_cmdline "--config.file=$(prom_dir)/prometheus.yml" prometheus | head -n1
}

prom_ready() { # PORT
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 2 "http://127.0.0.1:$1/-/ready" >/dev/null 2>&1
  else
    # shellcheck disable=SC2016
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
      printf "GET /-/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 &&
      head -n1 <&3 | grep -q " 200 "' _ "$1" 2>/dev/null
  fi
}

write_targets() { # HOST:PORT
  local d tmp
  d=$(prom_dir)
  mkdir -p "$d"
  tmp=$(mktemp "$d/.targets.XXXXXX")
  printf '[\n  {"targets": ["%s"], "labels": {"lab": "dbpecker"}}\n]\n' "$1" > "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$d/targets.json"
}

start_prometheus() {
  local d port pid user=
  d=$(prom_dir); port=$PROM_PORT_DEFAULT
  mkdir -p "$d/data"
  cat > "$d/prometheus.yml.tmp" <<YAML
# generated by scripts/lab.sh; the dbpecker job's target is in targets.json
# (scripts/lab.sh scrape-target HOST:PORT rewrites it; Prometheus reloads it)
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: dbpecker
    scrape_interval: 5s
    metrics_path: /metrics
    file_sd_configs:
      - files: ['$d/targets.json']
        refresh_interval: 5s
YAML
  mv -f "$d/prometheus.yml.tmp" "$d/prometheus.yml"
  if [ ! -f "$d/targets.json" ] || [ -n "${DBPECKER_SCRAPE_TARGET:-}" ]; then
    write_targets "$SCRAPE_TARGET_DEFAULT"
  fi
  if [ "$IS_ROOT" = 1 ] && id prometheus >/dev/null 2>&1 &&
     setpriv --reuid=prometheus --regid=prometheus --clear-groups test -x "$d" 2>/dev/null; then
    user=prometheus
    chown -R prometheus:prometheus "$d/data"
  fi
  pid=$(prom_pid)
  if [ -n "$pid" ] && prom_ready "$port"; then
    return 0
  fi
  if [ -n "$pid" ]; then kill_pids 10 "$pid"; fi
  if prom_ready "$port" || ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    die "127.0.0.1:$port is already in use by something else (set DBPECKER_PROM_PORT)"
  fi
  log "starting prometheus on 127.0.0.1:$port"
  local cmd=(prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data"
             --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$port")
  if [ -n "$user" ]; then
    ( close_inherited_fds; exec setsid setpriv --reuid=prometheus --regid=prometheus --init-groups "${cmd[@]}" ) \
      < /dev/null >> "$d/prometheus.log" 2>&1 9>&- &
  else
    ( close_inherited_fds; exec setsid "${cmd[@]}" ) < /dev/null >> "$d/prometheus.log" 2>&1 9>&- &
  fi
  pid=$!
  disown 2>/dev/null || true
  printf '%s\n' "$pid" > "$d/prometheus.pid"
  for _ in $(seq 1 150); do
    prom_ready "$port" && return 0
    pid_alive "$pid" || break
    sleep 0.2
  done
  tail -n 10 "$d/prometheus.log" >&2 || true
  kill_pids 5 "$pid"
  die "prometheus did not become ready on 127.0.0.1:$port"
}

stop_prometheus() {
  local pid
  pid=$(prom_pid)
  if [ -n "$pid" ]; then
    log "stopping prometheus (pid $pid)"
    kill_pids 15 "$pid"
  fi
  rm -f "$(prom_dir)/prometheus.pid"
}

# -------------------------------------------------------------- outputs --
faults_lists() { # sets FAULTS_OK FAULTS_NO FAULTS_UNCONFINED
  if [ "$ISO" = on ]; then
    FAULTS_OK="${ALL_FAULTS[*]}"; FAULTS_NO=""; FAULTS_UNCONFINED=""
  else
    FAULTS_OK="cpu_stress io_bottleneck cache_bottleneck too_many_indexes workload_surge lock_contention connection_storm"
    FAULTS_NO="network_bottleneck"
    FAULTS_UNCONFINED="cpu_stress io_bottleneck"
  fi
}

data_blkdev() { # MAJ:MIN of the whole disk holding the datadirs ("" if unknown)
  local dev base
  dev=$(stat -c '%Hd:%Ld' "$DATA_ROOT" 2>/dev/null) || return 0
  [ -e "/sys/dev/block/$dev" ] || return 0
  if [ -f "/sys/dev/block/$dev/partition" ]; then
    base=$(readlink -f "/sys/dev/block/$dev/..")
    [ -f "$base/dev" ] && dev=$(cat "$base/dev")
  fi
  printf '%s\n' "$dev"
}

yaml_scalar() { # plain when safe, double-quoted otherwise ("" when empty)
  if [[ "$1" =~ ^[A-Za-z0-9/._-]+$ ]]; then printf '%s' "$1"; else json_str "$1"; fi
}

write_nodes_yaml() { # COUNT
  local n tmp ns iface cg
  tmp="$LAB/nodes.yaml.tmp"
  {
    echo "# generated by scripts/lab.sh: the lab's MariaDB Galera nodes"
    for n in $(seq 1 "$1"); do
      if [ "$ISO" = on ]; then ns=$(node_ns "$n"); iface=eth0; cg="$CG_BASE/node$n"
      else ns=""; iface=""; cg=""; fi
      echo "- name: node$n"
      echo "  host: $(yaml_scalar "$(node_host "$n")")"
      echo "  port: $(node_port "$n")"
      echo "  datadir: $(yaml_scalar "$(node_data "$n")")"
      echo "  pid_file: $(yaml_scalar "$(node_pidf "$n")")"
      echo "  netns: $(yaml_scalar "$ns")"
      echo "  iface: $(yaml_scalar "$iface")"
      echo "  cgroup: $(yaml_scalar "$cg")"
    done
  } > "$tmp"
  mv -f "$tmp" "$LAB/nodes.yaml"
  chmod 0644 "$LAB/nodes.yaml"
}

write_lab_env() { # COUNT
  local n count=$1 tmp="$LAB/lab.env.tmp" cgdirs=""
  faults_lists
  if [ "$ISO" = on ]; then
    cgdirs=$(for n in $(seq 1 "$count"); do cg_node_dirs "$n"; done | paste -sd ' ')
  fi
  {
    echo "# generated by scripts/lab.sh start; shell-sourceable"
    printf 'LAB_DIR=%q\n' "$LAB"
    printf 'LAB_DATA_ROOT=%q\n' "$DATA_ROOT"
    printf 'LAB_ISOLATION=%q\n' "$ISO"
    printf 'LAB_ISOLATION_REASON=%q\n' "$ISO_REASON"
    printf 'LAB_NODES=%q\n' "$count"
    printf 'LAB_PROM_URL=%q\n' "http://127.0.0.1:$PROM_PORT_DEFAULT"
    printf 'LAB_PROM_PORT=%q\n' "$PROM_PORT_DEFAULT"
    printf 'LAB_PROM_TARGETS=%q\n' "$(prom_dir)/targets.json"
    printf 'LAB_FAULTS=%q\n' "$FAULTS_OK"
    printf 'LAB_FAULTS_UNAVAILABLE=%q\n' "$FAULTS_NO"
    printf 'LAB_FAULTS_NOT_CONFINED=%q\n' "$FAULTS_UNCONFINED"
    printf 'LAB_SECRETS_DIR=%q\n' "$LAB/secrets"
    printf 'LAB_CLIENT_CNF=%q\n' "$LAB/secrets/client.cnf"
    printf 'LAB_BENCH_CNF=%q\n' "$LAB/secrets/bench.cnf"
    printf 'LAB_NODES_YAML=%q\n' "$LAB/nodes.yaml"
    printf 'LAB_CGROUP_VERSION=%q\n' "$( [ "$ISO" = on ] && echo "$CG_VERSION" )"
    printf 'LAB_CGROUP_DIRS=%q\n' "$cgdirs"
    printf 'LAB_DATA_BLKDEV=%q\n' "$(data_blkdev)"
    printf 'LAB_BRIDGE=%q\n' "$( [ "$ISO" = on ] && echo "$BRIDGE" )"
    for n in $(seq 1 "$MAX_NODES"); do
      printf 'LAB_NODE%s_HOST=%q\n' "$n" "$(node_host "$n")"
      printf 'LAB_NODE%s_PORT=%q\n' "$n" "$(node_port "$n")"
      printf 'LAB_NODE%s_SOCKET=%q\n' "$n" "$(node_sock "$n")"
      printf 'LAB_NODE%s_NETNS=%q\n' "$n" "$( [ "$ISO" = on ] && node_ns "$n" )"
      printf 'LAB_NODE%s_CGROUP=%q\n' "$n" "$( [ "$ISO" = on ] && echo "$CG_BASE/node$n" )"
    done
  } > "$tmp"
  mv -f "$tmp" "$LAB/lab.env"
  chmod 0644 "$LAB/lab.env"
}

# ------------------------------------------------------------- commands --
take_lock() {
  exec 9> "$LAB/.lock"
  flock -w 300 9 || die "another lab.sh holds $LAB/.lock"
}

running_nodes() { # -> node numbers with a live mariadbd
  local n
  for n in $(seq 1 "$MAX_NODES"); do
    [ -n "$(node_pid "$n")" ] && printf '%s\n' "$n"
  done
  return 0
}

# pick the node to bootstrap from: safe_to_bootstrap: 1, else highest seqno,
# else node 1 (among nodes with an initialised datadir)
pick_bootstrap() { # COUNT
  local n best=1 best_seq=-2 sq f
  for n in $(seq 1 "$1"); do
    f="$(node_data "$n")/grastate.dat"
    [ -d "$(node_data "$n")/mysql" ] || continue
    if [ -f "$f" ] && grep -q '^safe_to_bootstrap: 1' "$f"; then echo "$n"; return 0; fi
    sq=$(awk '/^seqno:/{print $2}' "$f" 2>/dev/null || true)
    [[ "$sq" =~ ^-?[0-9]+$ ]] || sq=-1
    if [ "$sq" -gt "$best_seq" ]; then best=$n; best_seq=$sq; fi
  done
  echo "$best"
}

# Bring nodes 1..COUNT up; leaves running nodes alone when healthy.
ensure_nodes() { # COUNT [ONLY-NODE]
  local count=$1 only=${2:-} n primary="" running boot joiners=() waiters=() failed=0
  running=$(running_nodes)
  for n in $running; do
    if node_is_primary_synced "$n"; then primary=$n; break; fi
  done
  if [ -z "$primary" ] && [ -n "$running" ]; then
    # something is up but not a healthy Primary: maybe still joining
    for n in $running; do
      if wait_synced "$n" 20 2>/dev/null; then primary=$n; break; fi
    done
  fi
  if [ -z "$primary" ] && [ -n "$running" ]; then
    log "nodes $(echo "$running" | tr '\n' ' ')are up but not in a Primary component: restarting them"
    # shellcheck disable=SC2086
    stop_nodes $running
    running=
  fi
  for n in $(seq 1 "$count"); do
    if ! grep -qx "$n" <<< "$running"; then cleanup_node_leftovers "$n"; fi
  done
  if [ -z "$primary" ]; then
    if [ -n "$only" ]; then boot=$only; else boot=$(pick_bootstrap "$count"); fi
    prepare_node_dir "$boot"
    write_node_cnf "$boot" "$count"
    init_datadir "$boot"
    set_safe_to_bootstrap "$boot"
    log "node$boot: bootstrapping a new cluster"
    launch_node "$boot" --wsrep-new-cluster
    if ! wait_synced "$boot" "$JOIN_TIMEOUT"; then
      stop_node "$boot"
      die "node$boot failed to bootstrap"
    fi
    primary=$boot
    running=$(printf '%s\n%s\n' "$running" "$boot")
  fi
  apply_users "$primary"
  for n in $(seq 1 "$count"); do
    [ -n "$only" ] && [ "$n" != "$only" ] && continue
    if grep -qx "$n" <<< "$running"; then
      # already running (e.g. left joining by an interrupted start): wait for it
      if [ "$n" != "$primary" ] && ! node_is_primary_synced "$n"; then waiters+=("$n"); fi
      continue
    fi
    join_node "$n" "$count"
    joiners+=("$n")
  done
  for n in "${waiters[@]}"; do
    log "node$n: already running, waiting for it to be Synced"
    if ! wait_synced "$n" "$JOIN_TIMEOUT"; then
      warn "node$n is stuck; restarting it"
      stop_node "$n"
      join_node "$n" "$count"
      joiners+=("$n")
    fi
  done
  for n in "${joiners[@]}"; do
    if ! wait_synced "$n" "$JOIN_TIMEOUT"; then
      warn "node$n failed to join; stopping it"
      stop_node "$n"
      failed=1
    fi
  done
  [ "$failed" = 0 ] || die "some nodes failed to join (see their error.log)"
  return 0
}

join_node() { # N COUNT
  prepare_node_dir "$1"
  write_node_cnf "$1" "$2"
  log "node$1: joining (state transfer from the cluster)"
  launch_node "$1"
}

cmd_start() {
  local count=3 t0 running
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) [ $# -ge 2 ] || die "--nodes needs a value"; count=$2; shift 2 ;;
      --nodes=*) count=${1#--nodes=}; shift ;;
      *) die "start: unknown option '$1'" ;;
    esac
  done
  case "$count" in 1|2|3) ;; *) die "--nodes must be 1, 2 or 3" ;; esac
  t0=$(now_ms)
  check_deps
  GALERA_LIB=$(galera_lib)
  MYSQL=$(mysql_bin)
  mkdir -p "$LAB"
  chmod 0755 "$LAB"
  touch "$LAB/.dbpecker-lab"
  take_lock
  choose_data_root
  DATA_ROOT=$(data_root)
  [ ${#DATA_ROOT} -lt 90 ] || die "lab path too long for unix sockets: $DATA_ROOT (set DBPECKER_LAB_DIR to a shorter path)"

  decide_isolation
  # a lab already running keeps the mode (and node count) it was started with
  local prev_iso prev_count
  prev_iso=$(env_get LAB_ISOLATION); prev_count=$(env_get LAB_NODES)
  running=$(running_nodes)
  if [ -n "$running" ] && [ -n "$prev_iso" ]; then
    if [ "$prev_iso" != "$ISO" ]; then
      if [ "${DBPECKER_LAB_ISOLATION:-auto}" != auto ]; then
        die "the lab is running with isolation=$prev_iso; run 'scripts/lab.sh stop' first"
      fi
      ISO=$prev_iso
      ISO_REASON=$(env_get LAB_ISOLATION_REASON)
    fi
    if [ "${prev_count:-0}" -gt "$count" ]; then count=$prev_count; fi
  fi

  if [ "$ISO" = on ] && [ -n "$(other_lab_pids)" ]; then
    if [ -z "$running" ] && [ "${DBPECKER_LAB_ISOLATION:-auto}" = auto ]; then
      warn "the dbp-node* namespaces are used by another lab folder; this lab runs on loopback"
      ISO=off; ISO_REASON="namespaces in use by another lab"
    else
      die "the dbp-node* namespaces are used by another lab folder (stop that lab first)"
    fi
  fi
  if [ "$ISO" = on ]; then
    local nodes_all
    nodes_all=$(seq 1 "$MAX_NODES" | tr '\n' ' ')
    # shellcheck disable=SC2086
    if ! cg_setup $nodes_all || ! net_setup $nodes_all; then
      if [ -z "$running" ] && [ "${DBPECKER_LAB_ISOLATION:-auto}" = auto ]; then
        warn "network namespaces / cgroups could not be set up; falling back to loopback"
        net_teardown; cg_teardown
        ISO=off; ISO_REASON="netns or cgroup setup failed"
      else
        die "could not set up network namespaces / cgroups for isolation"
      fi
    fi
  fi
  [ "$ISO" = on ] && cg_activate_blkio 1
  [ "$ISO" = on ] && log "isolation on: netns dbp-node1..$MAX_NODES on $BRIDGE, cgroup v$CG_VERSION $CG_BASE/nodeN"
  [ "$ISO" = off ] && log "isolation off (${ISO_REASON:-lab running on loopback}): nodes on 127.0.0.1"

  ensure_secrets
  write_lab_env "$count"
  write_nodes_yaml "$count"
  ensure_nodes "$count"
  start_prometheus
  write_lab_env "$count"
  local dt=$(( $(now_ms) - t0 ))
  if cmd_status; then
    log "lab up in $(( dt / 1000 )).$(( dt % 1000 / 100 ))s"
  else
    die "the lab is not healthy after start (see above and the nodes' error.log)"
  fi
}

cmd_node_start() {
  local n=${1:-} count
  case "$n" in 1|2|3) ;; *) die "node-start needs a node number 1..3" ;; esac
  [ -f "$LAB/lab.env" ] || die "the lab was never started (run scripts/lab.sh start)"
  check_deps
  GALERA_LIB=$(galera_lib); MYSQL=$(mysql_bin)
  take_lock
  DATA_ROOT=$(data_root)
  ISO=$(env_get LAB_ISOLATION); ISO=${ISO:-off}
  ISO_REASON=$(env_get LAB_ISOLATION_REASON)
  count=$(env_get LAB_NODES); count=${count:-3}
  [ "$n" -gt "$count" ] && count=$n
  detect_cgroups
  if [ "$ISO" = on ]; then
    # shellcheck disable=SC2046
    if ! cg_setup $(seq 1 "$MAX_NODES") || ! net_setup $(seq 1 "$MAX_NODES"); then
      die "could not set up netns/cgroups for node$n"
    fi
  fi
  ensure_secrets
  if [ -n "$(node_pid "$n")" ] && node_is_primary_synced "$n"; then
    log "node$n is already up"
    return 0
  fi
  ensure_nodes "$count" "$n"
  write_lab_env "$count"
  write_nodes_yaml "$count"
  log "node$n: $(node_state "$n")"
}

cmd_node_stop() {
  local n=${1:-}
  case "$n" in 1|2|3) ;; *) die "node-stop needs a node number 1..3" ;; esac
  [ -d "$LAB" ] || die "no lab folder at $LAB"
  take_lock
  DATA_ROOT=$(data_root)
  ISO=$(env_get LAB_ISOLATION); ISO=${ISO:-off}
  stop_node "$n"
  log "node$n stopped"
}

cmd_stop() {
  [ -d "$LAB" ] && take_lock
  DATA_ROOT=$(data_root)
  ISO=$(env_get LAB_ISOLATION); ISO=${ISO:-off}
  # nodes 2..N first (in parallel), node 1 last so that it is the one
  # marked safe_to_bootstrap for the next start
  stop_nodes 3 2
  stop_nodes 1
  stop_prometheus
  if [ "$IS_ROOT" = 1 ]; then
    if [ -n "$(other_lab_pids)" ]; then
      log "namespaces and cgroups belong to another running lab folder; leaving them"
    else
      cg_teardown
      net_teardown
    fi
  fi
  log "lab stopped (datadirs kept in $DATA_ROOT; 'scripts/lab.sh reset' wipes them)"
}

cmd_reset() {
  local root
  cmd_stop
  DATA_ROOT=$(data_root)
  root=$DATA_ROOT
  case "$LAB" in
    /|"$REPO_DIR"|"${HOME:-/root}"|/root|/home|/tmp|/var|/var/lib|/usr|/etc) die "refusing to wipe $LAB" ;;
  esac
  case "$REPO_DIR/" in "$LAB"/*) die "refusing to wipe $LAB: it contains the repository" ;; esac
  if [ -d "$LAB" ]; then
    if [ -n "$(ls -A "$LAB" 2>/dev/null)" ] && [ ! -f "$LAB/.dbpecker-lab" ]; then
      die "refusing to wipe $LAB: no .dbpecker-lab marker (not a lab folder)"
    fi
    rm -rf -- "$LAB"
  fi
  if [ "$root" != "$LAB" ] && [ "$root" = "$(relocated_root)" ]; then
    rm -rf -- "$root"
    rmdir /var/lib/dbpecker-lab 2>/dev/null || true
  fi
  log "lab wiped ($LAB)"
}

cmd_scrape_target() {
  local target=${1:-}
  [[ "$target" =~ ^[A-Za-z0-9._-]+:[0-9]{1,5}$ ]] || die "scrape-target needs HOST:PORT (got '$target')"
  write_targets "$target"
  log "prometheus job dbpecker now scrapes $target ($(prom_dir)/targets.json)"
}

cmd_exec() {
  local n=${1:-}
  case "$n" in 1|2|3) ;; *) die "exec needs a node number 1..3" ;; esac
  shift
  [ "${1:-}" = -- ] && shift
  [ $# -gt 0 ] || die "exec N -- COMMAND [ARG]..."
  ISO=$(env_get LAB_ISOLATION); ISO=${ISO:-off}
  if [ "$ISO" != on ]; then
    warn "isolation is off: running on the host, not confined to node$n"
    exec "$@"
  fi
  detect_cgroups
  cg_join "$n"
  exec ip netns exec "$(node_ns "$n")" "$@"
}

cmd_sql() {
  local n=${1:-} host port
  case "$n" in 1|2|3) ;; *) die "sql needs a node number 1..3" ;; esac
  shift
  [ -r "$LAB/secrets/client.cnf" ] || die "no readable $LAB/secrets/client.cnf"
  host=$(env_get "LAB_NODE${n}_HOST"); port=$(env_get "LAB_NODE${n}_PORT")
  exec "$(mysql_bin)" --defaults-extra-file="$LAB/secrets/client.cnf" -h "$host" -P "$port" "$@"
}

cmd_status() {
  local json=0 n count ok=1 any_up=0 pid host port tcp prom_url prom_ok target nodes_json="" s
  [ "${1:-}" = --json ] && json=1
  MYSQL=$(mysql_bin)
  DATA_ROOT=$(data_root)
  if [ ! -f "$LAB/lab.env" ]; then
    if [ "$json" = 1 ]; then printf '{"lab_dir":%s,"started":false,"ok":false}\n' "$(json_str "$LAB")"
    else echo "dbpecker lab: not started ($LAB has no lab.env); run scripts/lab.sh start"; fi
    return 1
  fi
  ISO=$(env_get LAB_ISOLATION); ISO=${ISO:-off}
  ISO_REASON=$(env_get LAB_ISOLATION_REASON)
  count=$(env_get LAB_NODES); count=${count:-3}
  prom_url=$(env_get LAB_PROM_URL)
  target=$(sed -n 's/.*"targets": *\["\([^"]*\)".*/\1/p' "$(prom_dir)/targets.json" 2>/dev/null || true)
  faults_lists
  local lines=()
  for n in $(seq 1 "$count"); do
    pid=$(node_pid "$n")
    [ -n "$pid" ] && any_up=1
    read -r -a s <<< "$(node_state "$n")"
    host=$(node_host "$n"); port=$(node_port "$n")
    tcp=no
    if [ -n "$pid" ] && [ -r "$LAB/secrets/client.cnf" ] &&
       "$MYSQL" --defaults-extra-file="$LAB/secrets/client.cnf" -h "$host" -P "$port" \
         --connect-timeout=3 -N -B -e 'SELECT 1' >/dev/null 2>&1; then
      tcp=yes
    fi
    if [ "${s[0]}" != Synced ] || [ "${s[1]}" != "$count" ] || [ "${s[2]}" != Primary ]; then ok=0; fi
    lines+=("$(printf 'node%s  %-4s wsrep_cluster_size=%s  wsrep_local_state_comment=%s  wsrep_cluster_status=%s  address=%s:%s  tcp=%s  pid=%s%s' \
      "$n" "$( [ -n "$pid" ] && echo up || echo down)" "${s[1]}" "${s[0]}" "${s[2]}" "$host" "$port" "$tcp" "${pid:--}" \
      "$( [ "$ISO" = on ] && printf '  netns=%s cgroup=%s/node%s' "$(node_ns "$n")" "$CG_BASE" "$n")")")
    nodes_json="$nodes_json${nodes_json:+,}{\"name\":\"node$n\",\"up\":$( [ -n "$pid" ] && echo true || echo false),\"pid\":${pid:-null},\"host\":$(json_str "$host"),\"port\":$port,\"tcp\":$( [ "$tcp" = yes ] && echo true || echo false),\"wsrep_cluster_size\":${s[1]},\"wsrep_local_state_comment\":$(json_str "${s[0]}"),\"wsrep_cluster_status\":$(json_str "${s[2]}"),\"netns\":$(json_str "$( [ "$ISO" = on ] && node_ns "$n")"),\"cgroup\":$(json_str "$( [ "$ISO" = on ] && echo "$CG_BASE/node$n")")}"
  done
  prom_ok=no
  if [ -n "$(prom_pid)" ] && prom_ready "$(prom_port)"; then prom_ok=yes; else ok=0; fi
  if [ "$json" = 1 ]; then
    local fa="" fu="" fn="" f
    for f in $FAULTS_OK; do fa="$fa${fa:+,}\"$f\""; done
    for f in $FAULTS_NO; do fu="$fu${fu:+,}\"$f\""; done
    for f in $FAULTS_UNCONFINED; do fn="$fn${fn:+,}\"$f\""; done
    printf '{"lab_dir":%s,"started":true,"running":%s,"ok":%s,"isolation":%s,"isolation_reason":%s,"nodes_expected":%s,"nodes":[%s],"prometheus":{"url":%s,"ready":%s,"scrape_target":%s},"faults":{"available":[%s],"unavailable":[%s],"not_confined":[%s]}}\n' \
      "$(json_str "$LAB")" "$( [ "$any_up" = 1 ] && echo true || echo false)" "$( [ "$ok" = 1 ] && echo true || echo false)" "$(json_str "$ISO")" "$(json_str "$ISO_REASON")" \
      "$count" "$nodes_json" "$(json_str "$prom_url")" "$( [ "$prom_ok" = yes ] && echo true || echo false)" \
      "$(json_str "$target")" "$fa" "$fu" "$fn"
  else
    echo "dbpecker lab: $LAB"
    if [ "$ISO" = on ]; then
      echo "isolation: on (netns dbp-nodeN on bridge $BRIDGE $NET_PREFIX.0/24, cgroups $CG_BASE/nodeN)"
    else
      echo "isolation: off (${ISO_REASON:-loopback}); nodes on 127.0.0.1"
    fi
    printf '%s\n' "${lines[@]}"
    echo "prometheus: $( [ "$prom_ok" = yes ] && echo up || echo down) $prom_url (scrapes ${target:-?} every 5s)"
    echo "faults available: $FAULTS_OK"
    echo "faults unavailable: ${FAULTS_NO:-none}"
    [ -n "$FAULTS_UNCONFINED" ] && echo "faults not confined to one node: $FAULTS_UNCONFINED"
    if [ "$any_up" = 0 ] && [ "$prom_ok" = no ]; then echo "lab: stopped (scripts/lab.sh start brings it up)"; fi
    echo "overall: $( [ "$ok" = 1 ] && echo "OK (all $count node(s) Synced, wsrep_cluster_size=$count, prometheus ready)" || echo "NOT OK")"
  fi
  [ "$ok" = 1 ]
}

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

main() {
  local sub=${1:-}
  [ $# -gt 0 ] && shift
  MYSQL=mariadb
  DATA_ROOT=$LAB
  case "$sub" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status "$@" ;;
    reset) cmd_reset ;;
    node-start) cmd_node_start "$@" ;;
    node-stop) cmd_node_stop "$@" ;;
    scrape-target) cmd_scrape_target "$@" ;;
    exec) cmd_exec "$@" ;;
    sql) cmd_sql "$@" ;;
    env) [ -f "$LAB/lab.env" ] || die "no $LAB/lab.env (run scripts/lab.sh start)"; cat "$LAB/lab.env" ;;
    -h|--help|help) usage ;;
    "") usage; exit 2 ;;
    *) usage >&2; die "unknown command '$sub'" ;;
  esac
}

main "$@"
