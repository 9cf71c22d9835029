#!/usr/bin/env bash
# shellcheck disable=SC2034  # port and lab_pid are for the scripts that source this file
# What test-deb.sh and test-rpm.sh both ask of the packaged program, sourced by them:
#   check_against_source <program> <work folder> <version> <label>
# runs its --version, starts the loopback lab server (packaging/tests/labserver.py; sets lab_pid
# for the caller's cleanup and port for its later steps) and runs a headless check of it with
# the packaged program and from source (PYTHON -m gui): same exit code, same findings.
set -euo pipefail

check_against_source() {
  local program=$1 work=$2 version=$3 label=$4 said packaged_exit source_exit
  step "$label: --version"
  said=$(cd "$work" && "$program" --version)
  echo "$said"
  [ "$said" = "handshake-doctor $version" ] ||
    { echo "error: expected 'handshake-doctor $version'" >&2; return 1; }

  step "headless check of a loopback TLS server: $label against the source"
  "$PYTHON" packaging/tests/labserver.py "$work/lab" --lifetime 300 >"$work/lab.log" 2>&1 &
  lab_pid=$!
  for _ in $(seq 50); do [ -s "$work/lab/port" ] && break; sleep 0.1; done
  port=$(cat "$work/lab/port")
  local args=(check "127.0.0.1:$port" --cacert "$work/lab/ca.pem" --offline --json)
  set +e
  (cd "$work" && "$program" "${args[@]}" >"$work/packaged.json")
  packaged_exit=$?
  "$PYTHON" -m gui "${args[@]}" >"$work/source.json"
  source_exit=$?
  set -e
  echo "exit codes: $label $packaged_exit, source $source_exit"
  [ "$packaged_exit" -eq "$source_exit" ] || return 1
  "$PYTHON" packaging/tests/compare_reports.py "$work/packaged.json" "$work/source.json"
}
