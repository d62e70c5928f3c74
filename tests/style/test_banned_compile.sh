#!/usr/bin/env bash
# include/dbp/banned.h refuses each banned function at compile time, and a
# file that includes it last still compiles with the allowed replacements.
set -euo pipefail
src=${DBP_SOURCE_DIR:?}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head='#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "dbp/banned.h"
'
compiles() { printf '%s\n%s\n' "$head" "$1" > "$tmp/t.c"; "$cc" -std=c11 -I "$src/include" -fsyntax-only "$tmp/t.c" 2>"$tmp/err"; }
compiles 'int f(char *d, size_t n) { snprintf(d, n, "%d", 1); char *s = NULL; return strtok_r(d, ",", &s) != NULL; }' ||
  { echo "FAIL: allowed code does not compile with banned.h:"; cat "$tmp/err"; exit 1; }
fails=0
for use in 'strcpy(d, "x")' 'strcat(d, "x")' 'sprintf(d, "x")' 'strtok(d, ",")' 'atoi(d)' \
           'atol(d)' 'gmtime(NULL)' 'localtime(NULL)' 'system(d)' 'popen(d, "r")' \
           'cJSON_Parse(d)' 'cJSON_GetErrorPtr()'; do
  if compiles "void f(char *d) { (void)($use); }"; then
    echo "FAIL: '$use' compiled although banned.h bans it"; fails=1
  elif ! grep -q 'poisoned' "$tmp/err"; then
    echo "FAIL: '$use' refused for another reason:"; cat "$tmp/err"; fails=1
  fi
done
[ "$fails" = 0 ] || exit 1
echo "ok: banned.h refuses every banned function at compile time"
