#!/usr/bin/env bash
# README.md's API table is generated from the route table and must not drift.
exec bash "${DBP_SOURCE_DIR:?}/scripts/readme-routes.sh" --check
