#!/usr/bin/env bash
# Installs dist/handshake-doctor_*.deb on this machine (as root), checks the installed app: its
# version, a headless check of a loopback TLS server compared with the same run from source, the
# window under Xvfb (screenshot in build/screenshots/deb-xvfb.png), then removes the package with
# `dpkg -r` and checks that nothing is left. The package may own only its own folders besides the
# shared ones (/usr/lib, /usr/share/icons/hicolor/<size>/apps...): a folder no other package
# owns, as /opt was, makes dpkg -r warn that it is "not empty so not removed". Talks only to
# 127.0.0.1.
# Needs: xvfb, xauth, xdotool, imagemagick, desktop-file-utils (optional). PYTHON as in build.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=$repo/.venv/bin/python; else PYTHON=python3; fi
fi
[ "$(id -u)" -eq 0 ] || { echo "error: run as root (it installs the .deb with dpkg)" >&2; exit 1; }
for tool in xvfb-run xdotool import; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing" >&2; exit 1; }
done
deb=dist/handshake-doctor_$(cat dist/VERSION 2>/dev/null)_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { echo "error: no .deb in dist/: run packaging/linux/build-deb.sh" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)
if dpkg-query -W -f='${Status}' handshake-doctor 2>/dev/null | grep -q "installed"; then
  echo "error: handshake-doctor is already installed; dpkg -r it first" >&2
  exit 1
fi

work=$(mktemp -d)
lab_pid=""
installed=0
cleanup() {
  if [ -n "$lab_pid" ]; then kill "$lab_pid" 2>/dev/null || true; fi
  if [ "$installed" -eq 1 ] && dpkg-query -W handshake-doctor >/dev/null 2>&1; then
    dpkg -r handshake-doctor >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
# shellcheck source=packaging/linux/against-source.sh
source packaging/linux/against-source.sh

step "install $deb"
installed=1
if ! dpkg -i "$deb"; then
  echo "dpkg -i left dependencies missing; apt-get -f install brings them in"
  DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq
fi
dpkg-query -W -f='${Status}\n' handshake-doctor | grep -q "install ok installed"
[ "$(readlink -f /usr/bin/handshake-doctor)" = /usr/lib/handshake-doctor/handshake-doctor ]
[ "$(command -v handshake-doctor)" = /usr/bin/handshake-doctor ]
for file in /usr/share/applications/handshake-doctor.desktop \
  /usr/share/icons/hicolor/scalable/apps/handshake-doctor.svg \
  /usr/share/icons/hicolor/48x48/apps/handshake-doctor.png \
  /usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml; do
  [ -f "$file" ] || { echo "error: $file is not installed" >&2; exit 1; }
done
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate /usr/share/applications/handshake-doctor.desktop
fi
foreign=()
while read -r path; do
  if [ -L "$path" ] || [ ! -d "$path" ]; then continue; fi
  case "$path" in
    /. | /usr | /usr/bin | /usr/lib | /usr/share | /usr/share/applications | /usr/share/doc) ;;
    /usr/share/metainfo | /usr/share/icons | /usr/share/icons/hicolor) ;;
    /usr/share/icons/hicolor/[0-9]*x[0-9]* | /usr/share/icons/hicolor/[0-9]*x[0-9]*/apps) ;;
    /usr/share/icons/hicolor/scalable | /usr/share/icons/hicolor/scalable/apps) ;;
    /usr/lib/handshake-doctor | /usr/lib/handshake-doctor/* | /usr/share/doc/handshake-doctor) ;;
    *) foreign+=("$path") ;;
  esac
done < <(dpkg -L handshake-doctor)
if [ ${#foreign[@]} -ne 0 ]; then
  echo "error: the package lists folders that are neither its own nor shared: ${foreign[*]}" >&2
  exit 1
fi
echo "ok: installed; /usr/bin/handshake-doctor -> /usr/lib/handshake-doctor/handshake-doctor"

check_against_source handshake-doctor "$work" "$version" "the installed app"

step "the window under Xvfb, diagnosing the lab server"
# Settings in a throwaway folder, offline, so the window contacts nothing but the lab server.
mkdir -p "$work/config/Handshake Doctor"
printf '[settings]\noffline=true\n' >"$work/config/Handshake Doctor/Handshake Doctor.conf"
# Under build/, never over the tracked docs/screenshots/deb-xvfb.png: checking leaves the tree
# clean (copy it there by hand to refresh the README's picture).
mkdir -p build/screenshots
XDG_CONFIG_HOME="$work/config" xvfb-run -a -s "-screen 0 1280x900x24" \
  packaging/linux/screenshot-gui.sh handshake-doctor build/screenshots/deb-xvfb.png \
  "127.0.0.1:$port"

step "dpkg -r handshake-doctor"
# Its warnings go to the output, not to the exit status: kept to look for the one about folders.
status=0
removal=$(dpkg -r handshake-doctor 2>&1) || status=$?
echo "$removal"
[ "$status" -eq 0 ] || { echo "error: dpkg -r exited $status" >&2; exit 1; }
installed=0
if grep -q "not empty so not removed" <<<"$removal"; then
  echo "error: dpkg -r left a folder the package listed as its own" >&2
  exit 1
fi
left=()
for path in /usr/lib/handshake-doctor /usr/bin/handshake-doctor \
  /usr/share/applications/handshake-doctor.desktop \
  /usr/share/icons/hicolor/scalable/apps/handshake-doctor.svg \
  /usr/share/icons/hicolor/48x48/apps/handshake-doctor.png \
  /usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml \
  /usr/share/doc/handshake-doctor; do
  if [ -e "$path" ] || [ -L "$path" ]; then left+=("$path"); fi
done
if [ ${#left[@]} -ne 0 ]; then
  echo "error: dpkg -r left behind: ${left[*]}" >&2
  exit 1
fi
if dpkg-query -W -f='${Status}' handshake-doctor 2>/dev/null | grep -q "installed"; then
  echo "error: dpkg still lists handshake-doctor as installed" >&2
  exit 1
fi
echo "ok: removed; /usr/lib/handshake-doctor and /usr/bin/handshake-doctor are gone"
printf '\nall .deb checks passed (%s)\n' "$deb"
