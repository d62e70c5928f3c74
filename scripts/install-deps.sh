#!/usr/bin/env bash
# Install what dbpecker needs from Debian 12 packages.  Safe to run twice:
# only missing packages are installed, and `apt-get update` runs at most
# once per invocation (and only when something is missing).
#
#   scripts/install-deps.sh [build|lab|test|all]...   (default: all)
set -euo pipefail

declare -A GROUPS_PKGS=(
  [build]="build-essential cmake pkg-config clang libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev default-libmysqlclient-dev libyaml-dev libcmocka-dev libxgboost-dev libjs-chart.js curl ca-certificates"
  [lab]="mariadb-server mariadb-client galera-4 rsync prometheus stress-ng nftables iproute2 sysbench procps cgroup-tools"
  [test]="wrk bc openssl prometheus-mysqld-exporter chromium chromium-driver libclang-rt-14-dev python3 python3-yaml"
)

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(all)
wanted=()
for g in "${groups[@]}"; do
  case "$g" in
    all) wanted+=(${GROUPS_PKGS[build]} ${GROUPS_PKGS[lab]} ${GROUPS_PKGS[test]}) ;;
    build|lab|test) wanted+=(${GROUPS_PKGS[$g]}) ;;
    *) echo "install-deps: unknown group '$g' (build, lab, test, all)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: nothing to install (${groups[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Package installs must not start services behind our back (the lab starts
# its own MariaDB and Prometheus with its own data directories).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
