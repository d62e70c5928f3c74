#!/usr/bin/env bash
# The daemon's code uses none of the banned functions (scripts/lint.sh).
exec bash "${DBP_SOURCE_DIR:?}/scripts/lint.sh"
