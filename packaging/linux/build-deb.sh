#!/usr/bin/env bash
# Makes dist/handshake-doctor_<version>_<arch>.deb from the onedir build (run packaging/build.sh
# first): the app in /usr/lib/handshake-doctor, /usr/bin/handshake-doctor, a desktop entry, icons
# and AppStream metadata (laid out by stage-root.sh, which the .rpm shares). Libraries every
# desktop has come from the system through Depends (so they get its security updates); Qt, ICU,
# Python and PySide6 stay bundled.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=packaging/linux/stage-root.sh disable=SC1091
source packaging/linux/stage-root.sh

[ -x dist/handshake-doctor/handshake-doctor ] ||
  { echo "error: dist/handshake-doctor is missing: run packaging/build.sh" >&2; exit 1; }
version=$(cat dist/VERSION)
arch=$(dpkg --print-architecture)
deb="dist/handshake-doctor_${version}_${arch}.deb"
root=build/deb/root
rm -rf build/deb && mkdir -p "$root"
stage_root "$root"
install -d -m 755 "$root/DEBIAN"

# --- Control file -----------------------------------------------------------------------------
# The Qt xcb platform plugin's libraries, OpenGL/EGL (Qt loads them even for plain widgets),
# fonts, and what the bundled Python and Qt link to. Ubuntu 24.04 renamed some (t64).
glibc=$(python3 packaging/linux/deb_audit.py "$root$APP_DIR" --print-glibc)
depends=(
  "libc6 (>= $glibc)" "libstdc++6" "libgcc-s1" "libssl3t64 | libssl3" "libffi8" "zlib1g"
  "libbz2-1.0" "liblzma5" "libzstd1" "libglib2.0-0t64 | libglib2.0-0" "libdbus-1-3" "libfontconfig1"
  "libfreetype6" "libpng16-16t64 | libpng16-16" "libgl1" "libegl1" "libxkbcommon0"
  "libxkbcommon-x11-0" "libx11-6" "libx11-xcb1" "libxcb1" "libxcb-cursor0" "libxcb-icccm4"
  "libxcb-image0" "libxcb-keysyms1" "libxcb-randr0" "libxcb-render0" "libxcb-render-util0"
  "libxcb-shape0" "libxcb-shm0" "libxcb-sync1" "libxcb-xfixes0" "libxcb-xkb1" "libxcb-util1"
  "fonts-dejavu-core | fonts-liberation2 | fonts-freefont-ttf" "ca-certificates"
)
depends_field=$(IFS=,; echo "${depends[*]}")
depends_field=${depends_field//,/, }
python3 packaging/linux/deb_audit.py "$root$APP_DIR" --depends "$depends_field" \
  >build/deb/audit.txt || { cat build/deb/audit.txt; exit 1; }

installed_size=$(du -sk --apparent-size "$root/usr" | awk '{s += $1} END {print s}')
cat >"$root/DEBIAN/control" <<CONTROL
Package: $PACKAGE_NAME
Version: $version
Architecture: $arch
Maintainer: $PACKAGE_MAINTAINER
Installed-Size: $installed_size
Depends: $depends_field
Recommends: fonts-noto-cjk | fonts-wqy-microhei
Section: net
Priority: optional
Description: $PACKAGE_SUMMARY
 ${PACKAGE_DESCRIPTION//$'\n'/$'\n' }
CONTROL

# Owned by root whoever builds it; the modes are stage_root's.
mkdir -p dist && rm -f dist/handshake-doctor_*.deb
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date +%s)} \
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "ok: $deb ($(du -h "$deb" | cut -f1); installed $((installed_size / 1024)) MB)"
