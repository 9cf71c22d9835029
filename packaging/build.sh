#!/usr/bin/env bash
# Builds the standalone app with PyInstaller: dist/handshake-doctor/ (onedir, for the installers)
# and dist/handshake-doctor-portable (onefile); on Linux also the portable .tar.gz.
# Usage: packaging/build.sh [--only onedir|onefile]. PYTHON picks the interpreter (default: the
# project's .venv, else python3); it needs the runtime dependencies, and PyInstaller is installed
# into it at the version pinned in pyproject.toml when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
spec_args=()
if [ "${1:-}" = --only ]; then
  spec_args=(-- --only "${2:?--only needs onedir or onefile}")
fi

if ! "$PYTHON" -c 'import PyInstaller' 2>/dev/null; then
  pin=$(grep -o '"pyinstaller==[^"]*"' pyproject.toml | tr -d '"')
  echo "installing $pin into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
  "$PYTHON" -m pip install --quiet "$pin"
fi

version=$("$PYTHON" -c 'import runpy; print(runpy.run_path("checks/core/version.py")["__version__"])')
case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=macos ;;
  *) os=windows ;;
esac
arch=$(uname -m)
case "$arch" in
  amd64 | AMD64) arch=x86_64 ;;
  aarch64) arch=arm64 ;;
esac

echo "building Handshake Doctor $version for $os-$arch"
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/handshake-doctor.spec "${spec_args[@]}"

exe=""
[ "$os" = windows ] && exe=.exe
# The version every artifact carries is the package's: check the frozen programs say the same.
for program in "dist/handshake-doctor/handshake-doctor$exe" "dist/handshake-doctor-portable$exe"; do
  [ -e "$program" ] || continue
  said=$("$program" --version)
  if [ "$said" != "handshake-doctor $version" ]; then
    echo "error: $program --version says '$said', expected 'handshake-doctor $version'" >&2
    exit 1
  fi
  echo "ok: $program --version: $said"
done
printf '%s\n' "$version" >dist/VERSION

if [ "$os" = linux ] && [ -e dist/handshake-doctor-portable ]; then
  # The portable copy: one program in a folder, runs from anywhere without installing.
  name="handshake-doctor-$version-linux-$arch"
  stage=build/tarball/$name
  rm -rf build/tarball && mkdir -p "$stage"
  cp dist/handshake-doctor-portable "$stage/handshake-doctor"
  cp packaging/linux/PORTABLE.txt "$stage/README.txt"
  cp packaging/icon/png/256x256.png "$stage/handshake-doctor.png"
  # Reproducible archive: fixed owner, order and times.
  mtime="@${SOURCE_DATE_EPOCH:-$(date +%s)}"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" \
    -C build/tarball -cf - "$name" | gzip -n -9 >"dist/$name.tar.gz"
  echo "ok: dist/$name.tar.gz ($(du -h "dist/$name.tar.gz" | cut -f1))"
fi
