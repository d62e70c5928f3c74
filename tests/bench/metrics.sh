#!/usr/bin/env bash
# Metrics pipeline figures:
#  1. ns per sample for rate + Welford + ring (bench_series);
#  2. one collection cycle's CPU for 3, 30 and 300 nodes x 500 metrics
#     (synthetic source through the real store) and the readers' cost;
#  3. /metrics scrape latency and CPU per scrape, dbpecker vs Debian's
#     prometheus-mysqld-exporter, against the same MariaDB, in one run;
#  4. RSS with 3 nodes x the full mariadb catalog x 720 points.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. tests/bench/lib.sh
scrapes=${SCRAPES:-300}
command -v prometheus-mysqld-exporter >/dev/null || scripts/install-deps.sh test
cmake -S . -B build >/dev/null && cmake --build build -j"$(nproc)" --target dbpecker bench_series bench_collector >/dev/null

echo "== 1. series push (rate + Welford + ring), 1500 series x 10k samples"
build/tests/bench_series | grep -E 'ns_per_sample|bytes|series' | head -5
echo
echo "== 2. collection cycle cost by cluster size (500 metrics per node)"
build/tests/bench_collector 60
echo
echo "== 4. memory"
build/tests/bench_collector --rss config/catalog mariadb 3

echo
echo "== 3. /metrics scrape: dbpecker vs prometheus-mysqld-exporter (same MariaDB, $scrapes scrapes each)"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; bench_mariadb_stop; rm -rf "$tmp"; }
trap cleanup EXIT
bench_mariadb_start 3393
cat > "$tmp/d.yaml" <<YAML
server: {port: 18766}
log: {level: error}
data_dir: $tmp/data
database:
  catalog: mariadb
  catalog_dir: $here/config/catalog
  user: bench_mon
  password_file: $BENCH_DB_DIR/pw
  nodes:
    - {name: node1, host: 127.0.0.1, port: 3393, pid_file: $BENCH_DB_DIR/pid}
collector: {interval_ms: 5000}
YAML
build/dbpecker -c "$tmp/d.yaml" 2>"$tmp/d.log" & pids+=($!); dpid=$!
prometheus-mysqld-exporter --config.my-cnf="$BENCH_DB_DIR/my.cnf" --web.listen-address=127.0.0.1:19104 \
  >"$tmp/e.log" 2>&1 & pids+=($!); epid=$!
sleep 7
scrape() { # label url pid
  local label=$1 url=$2 pid=$3 c0 c1 i
  curl -s -o /dev/null "$url"
  c0=$(proc_cpu "$pid")
  : > "$tmp/times"
  for i in $(seq "$scrapes"); do curl -s -o "$tmp/body" -w '%{time_total}\n' "$url" >> "$tmp/times"; done
  c1=$(proc_cpu "$pid")
  local bytes series
  bytes=$(wc -c < "$tmp/body"); series=$(grep -vc '^#' "$tmp/body")
  sort -n "$tmp/times" | awk -v l="$label" -v n="$scrapes" -v c="$(echo "($c1 - $c0) * 1000 / $scrapes" | bc -l)" \
    -v b="$bytes" -v s="$series" \
    '{a[NR]=$1} END {printf "%-26s p50 %.2f ms  p99 %.2f ms  CPU/scrape %.2f ms  %d series, %d bytes\n", l, a[int(n*0.5)]*1000, a[int(n*0.99)]*1000, c, s, b}'
  echo "$label" > /dev/null
}
scrape "dbpecker /metrics" "http://127.0.0.1:18766/metrics" "$dpid" | tee "$tmp/d.res"
scrape "mysqld_exporter /metrics" "http://127.0.0.1:19104/metrics" "$epid" | tee "$tmp/e.res"
dp=$(awk '{print $4}' "$tmp/d.res"); ep=$(awk '{print $4}' "$tmp/e.res")
echo "latency ratio (exporter / dbpecker, p50): $(echo "$ep / $dp" | bc -l | cut -c1-5)"
echo "(the exporter queries MariaDB on every scrape; dbpecker serves its last cycle's snapshot)"
echo "dbpecker RSS with 1 node after the scrapes: $(( $(awk '/VmRSS/ {print $2}' /proc/$dpid/status) / 1024 )) MB"
