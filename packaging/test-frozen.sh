#!/usr/bin/env bash
# Tests the frozen app in dist/ (build it first with packaging/build.sh): packaging/tests/
# test_frozen.py, kept out of the main suite because it needs a build. Run as root on Linux to
# include the test that hides OpenSSL's default paths in a private mount namespace.
# PYTHON as in build.sh; it needs pytest (the dev extra). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if [ ! -e dist/handshake-doctor ]; then
  echo "error: no frozen build in dist/: run packaging/build.sh first" >&2
  exit 1
fi
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
# The other packaging tests need no build: the main suite (make test) runs them, and the release
# workflow runs them before it builds.
exec "$PYTHON" -m pytest packaging/tests/test_frozen.py -p no:cacheprovider -ra "$@"
