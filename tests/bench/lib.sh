# Helpers for the benchmark scripts: a private MariaDB in a temp dir.
# Source it; call bench_mariadb_start PORT; it sets BENCH_DB_DIR, BENCH_DB_SOCK,
# BENCH_DB_PORT and writes $BENCH_DB_DIR/pw (user bench_mon, mode 0600) and
# $BENCH_DB_DIR/my.cnf ([client] for the mysql CLI and mysqld_exporter).
bench_mariadb_start() {
  BENCH_DB_PORT=$1
  BENCH_DB_DIR=$(mktemp -d /tmp/dbp-benchdb-XXXXXX)
  chmod 755 "$BENCH_DB_DIR"
  chown mysql: "$BENCH_DB_DIR"
  BENCH_DB_SOCK=$BENCH_DB_DIR/sock
  mariadb-install-db --user=mysql --datadir="$BENCH_DB_DIR/data" >/dev/null 2>&1
  mariadbd --user=mysql --datadir="$BENCH_DB_DIR/data" --socket="$BENCH_DB_SOCK" \
    --port="$BENCH_DB_PORT" --bind-address=127.0.0.1 --pid-file="$BENCH_DB_DIR/pid" \
    --innodb-buffer-pool-size=256M --max-connections=500 >"$BENCH_DB_DIR/err.log" 2>&1 &
  for _ in $(seq 60); do [ -S "$BENCH_DB_SOCK" ] && break; sleep 0.5; done
  local pw
  pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  umask 077
  printf '%s' "$pw" > "$BENCH_DB_DIR/pw"
  printf '[client]\nuser=bench_mon\npassword=%s\nhost=127.0.0.1\nport=%s\n' "$pw" "$BENCH_DB_PORT" > "$BENCH_DB_DIR/my.cnf"
  mariadb -S "$BENCH_DB_SOCK" -uroot <<SQL
CREATE USER 'bench_mon'@'%' IDENTIFIED BY '$pw';
CREATE USER 'bench_mon'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL ON *.* TO 'bench_mon'@'%';
GRANT ALL ON *.* TO 'bench_mon'@'localhost';
CREATE DATABASE IF NOT EXISTS sbtest;
SQL
  umask 022
}

bench_mariadb_stop() {
  [ -n "${BENCH_DB_DIR:-}" ] || return 0
  [ -f "$BENCH_DB_DIR/pid" ] && kill "$(cat "$BENCH_DB_DIR/pid")" 2>/dev/null || true
  for _ in $(seq 60); do [ -f "$BENCH_DB_DIR/pid" ] || break; sleep 0.5; done
  rm -rf "$BENCH_DB_DIR"
}

# CPU seconds (utime+stime) of a pid.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
