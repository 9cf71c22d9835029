#!/usr/bin/env bash
# Makes dist/handshake-doctor_<version>_<arch>.deb from the onedir build (run packaging/build.sh
# first): the app in /opt/handshake-doctor, /usr/bin/handshake-doctor, a desktop entry, icons and
# AppStream metadata. Libraries every desktop has come from the system through Depends (so they
# get its security updates); Qt, ICU, Python and PySide6 stay bundled.
set -euo pipefail
cd "$(dirname "$0")/../.."

app=dist/handshake-doctor
[ -x "$app/handshake-doctor" ] || { echo "error: $app is missing: run packaging/build.sh" >&2; exit 1; }
version=$(cat dist/VERSION)
arch=$(dpkg --print-architecture)
deb="dist/handshake-doctor_${version}_${arch}.deb"
root=build/deb/root
rm -rf build/deb && mkdir -p "$root/opt" "$root/usr/bin" "$root/DEBIAN"

# --- The app ----------------------------------------------------------------------------------
cp -a "$app" "$root/opt/handshake-doctor"
ln -s /opt/handshake-doctor/handshake-doctor "$root/usr/bin/handshake-doctor"
# Bundled copies of system libraries that Depends provides (PyInstaller took them from the build
# machine). Qt's own libraries, ICU, libpython, PySide6 and shiboken are not in this list.
unbundle=(
  'libX11.so.*' 'libX11-xcb.so.*' 'libXau.so.*' 'libXdmcp.so.*' 'libxcb*.so.*'
  'libxkbcommon.so.*' 'libxkbcommon-x11.so.*' 'libfontconfig.so.*' 'libfreetype.so.*'
  'libpng16.so.*' 'libdbus-1.so.*' 'libglib-2.0.so.*' 'libgthread-2.0.so.*' 'libpcre2-8.so.*'
  'libz.so.*' 'libbz2.so.*' 'liblzma.so.*' 'libzstd.so.*' 'liblz4.so.*' 'libbrotli*.so.*'
  'libexpat.so.*' 'libbsd.so.*' 'libmd.so.*' 'libcap.so.*' 'libgcrypt.so.*' 'libgpg-error.so.*'
  'libsystemd.so.*' 'libstdc++.so.*' 'libgcc_s.so.*' 'libssl.so.*' 'libcrypto.so.*'
  'libffi.so.*'
)
for pattern in "${unbundle[@]}"; do
  find "$root/opt/handshake-doctor/_internal" -maxdepth 1 -name "$pattern" -delete
done

# --- Desktop integration ----------------------------------------------------------------------
install -Dm644 packaging/linux/handshake-doctor.desktop \
  "$root/usr/share/applications/handshake-doctor.desktop"
for png in packaging/icon/png/*.png; do
  size=$(basename "$png" .png)
  install -Dm644 "$png" "$root/usr/share/icons/hicolor/$size/apps/handshake-doctor.png"
done
install -Dm644 packaging/icon/handshake-doctor.svg \
  "$root/usr/share/icons/hicolor/scalable/apps/handshake-doctor.svg"
release_date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)
install -d "$root/usr/share/metainfo"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$release_date/" \
  packaging/linux/handshake-doctor.metainfo.xml \
  >"$root/usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml"
install -d "$root/usr/share/doc/handshake-doctor"
cat >"$root/usr/share/doc/handshake-doctor/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: handshake-doctor
Comment: Bundles Python, Qt 6 (LGPL-3.0) through PySide6, ICU, cryptography, pyOpenSSL, certifi
 (MPL-2.0), psutil, ntplib and truststore; their licences are in /opt/handshake-doctor/_internal.

Files: *
License: MIT
COPYRIGHT

# --- Control file -----------------------------------------------------------------------------
# The Qt xcb platform plugin's libraries, OpenGL/EGL (Qt loads them even for plain widgets),
# fonts, and what the bundled Python and Qt link to. Ubuntu 24.04 renamed some (t64).
glibc=$(python3 packaging/linux/deb_audit.py "$root/opt/handshake-doctor" --print-glibc)
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
python3 packaging/linux/deb_audit.py "$root/opt/handshake-doctor" --depends "$depends_field" \
  >build/deb/audit.txt || { cat build/deb/audit.txt; exit 1; }

installed_size=$(du -sk --apparent-size "$root/opt" "$root/usr" | awk '{s += $1} END {print s}')
cat >"$root/DEBIAN/control" <<CONTROL
Package: handshake-doctor
Version: $version
Architecture: $arch
Maintainer: Handshake Doctor <maintainers@handshake-doctor.invalid>
Installed-Size: $installed_size
Depends: $depends_field
Recommends: fonts-noto-cjk | fonts-wqy-microhei
Section: net
Priority: optional
Description: find out why this computer cannot make a secure (TLS) connection
 Handshake Doctor answers the question behind every "SSL handshake failed": it
 checks the clock, the trust store, proxies, interception software, DNS, the
 network and the site's certificate, shows traffic-light results with
 step-by-step fixes for this operating system, and names the single most
 likely cause. The window and a headless "handshake-doctor check" command.
CONTROL

if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$root/usr/share/applications/handshake-doctor.desktop"
fi
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net --pedantic --explain \
    "$root/usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml" >/dev/null
fi

# Files root-owned, directories 755, files 644 except programs and libraries.
find "$root" -type d -exec chmod 755 {} +
mkdir -p dist && rm -f dist/handshake-doctor_*.deb
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date +%s)} \
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "ok: $deb ($(du -h "$deb" | cut -f1); installed $((installed_size / 1024)) MB)"
