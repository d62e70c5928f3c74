#!/usr/bin/env bash
# House-style checks that a compiler does not make (STYLE §19): banned
# functions in the daemon's own code.  Exit 1 and list the hits.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gmtime|localtime|system|popen|gets|cJSON_GetErrorPtr|cJSON_Parse)\s*\('
hits=$(grep -rnE "$banned" src include || true)
if [ -n "$hits" ]; then
  echo "banned functions (use dbp_strlcpy, snprintf, strtol/dbp_parse_i64, gmtime_r, dbp_spawn, cJSON_ParseWithLengthOpts):"
  echo "$hits"
  exit 1
fi
echo "ok: no banned functions in src/ and include/"
