#!/usr/bin/env bash
# Signs Windows programs in place with the release's code-signing certificate (Authenticode,
# SHA-256, RFC 3161 timestamp) and verifies each signature before it returns.
# Usage: packaging/windows/sign.sh FILE...   (makensis calls it for the installer and uninstaller)
# Environment:
#   WINDOWS_SIGN_PFX       the certificate and its key, PKCS#12 (the workflow decodes a secret)
#   WINDOWS_SIGN_PASSWORD  the PKCS#12 password
#   WINDOWS_TIMESTAMP_URL  RFC 3161 server (default DigiCert's); without a timestamp a signature
#                          dies with the certificate, so there is no way to sign without one;
#                          three tries of at most WINDOWS_SIGN_ATTEMPT_LIMIT_S (120) seconds
#   WINDOWS_SIGN_TRUST     PEM roots to verify against with osslsigncode (default: the system's)
# signtool (Windows SDK) signs on Windows; osslsigncode (Debian: osslsigncode) elsewhere, which is
# how packaging/tests/test_workflows.py runs the workflow's installer step here.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 FILE..." >&2; exit 2; }
: "${WINDOWS_SIGN_PFX:?WINDOWS_SIGN_PFX names no certificate}"
: "${WINDOWS_SIGN_PASSWORD?WINDOWS_SIGN_PASSWORD is not set}"
[ -f "$WINDOWS_SIGN_PFX" ] || { echo "error: no certificate at $WINDOWS_SIGN_PFX" >&2; exit 2; }
timestamp_url=${WINDOWS_TIMESTAMP_URL:-http://timestamp.digicert.com}
description="Handshake Doctor"

find_signtool() {
  if [ -n "${SIGNTOOL:-}" ]; then echo "$SIGNTOOL"; return; fi
  if command -v signtool >/dev/null; then command -v signtool; return; fi
  # Not on PATH on GitHub's Windows runners: the newest Windows SDK's x64 signtool.
  local found
  found=$(compgen -G "/c/Program Files (x86)/Windows Kits/10/bin/10.*/x64/signtool.exe" \
    | sort -V | tail -n 1 || true)
  [ -n "$found" ] && echo "$found"
}

# Neither signtool nor osslsigncode lets us bound its request to the timestamp server, so each
# attempt is stopped after this long (polled: a watchdog process would outlive the script).
attempt_limit_s=${WINDOWS_SIGN_ATTEMPT_LIMIT_S:-120}
bounded() {
  "$@" &
  local pid=$! polls=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$polls" -ge $((attempt_limit_s * 5)) ]; then
      echo "no answer within $attempt_limit_s s (the timestamp server?)" >&2
      kill "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
    polls=$((polls + 1))
  done
  wait "$pid"
}

# Timestamp servers drop requests now and then; a release should not fail on one.
with_retries() {
  local attempt
  for attempt in 1 2 3; do
    if bounded "$@"; then return 0; fi
    [ "$attempt" -lt 3 ] || break
    echo "signing attempt $attempt failed; retrying in $((attempt * 5)) s" >&2
    sleep $((attempt * 5))
  done
  return 1
}

# osslsigncode writes a copy and will not overwrite one a failed attempt left behind. Called only
# through bounded(), in its background subshell: exec makes that process osslsigncode itself,
# so stopping it stops the request (a subshell would die and leave osslsigncode running).
osslsign() {
  rm -f "$1.signed"
  exec osslsigncode sign -pkcs12 "$WINDOWS_SIGN_PFX" -pass "$WINDOWS_SIGN_PASSWORD" -h sha256 \
    -ts "$timestamp_url" -n "$description" -in "$1" -out "$1.signed"
}

signtool=$(find_signtool || true)
for file in "$@"; do
  [ -f "$file" ] || { echo "error: nothing to sign at $file" >&2; exit 2; }
  if [ -n "$signtool" ]; then
    with_retries "$signtool" sign /fd SHA256 /f "$WINDOWS_SIGN_PFX" /p "$WINDOWS_SIGN_PASSWORD" \
      /tr "$timestamp_url" /td SHA256 /d "$description" "$file" >/dev/null
    "$signtool" verify /pa /tw "$file" >/dev/null
  elif command -v osslsigncode >/dev/null; then
    with_retries osslsign "$file" >/dev/null
    mv -f "$file.signed" "$file"
    trust=${WINDOWS_SIGN_TRUST:-/etc/ssl/certs/ca-certificates.crt}
    osslsigncode verify -CAfile "$trust" -TSA-CAfile "$trust" -in "$file" >/dev/null
  else
    echo "error: neither signtool (Windows SDK) nor osslsigncode is installed" >&2
    exit 2
  fi
  echo "signed, timestamped and verified: $file"
done
