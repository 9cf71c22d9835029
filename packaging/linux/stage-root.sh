#!/usr/bin/env bash
# shellcheck disable=SC2034  # the constants are for the scripts that source this file
# The installed tree that the .deb and the .rpm both carry, and the words both use to describe the
# package. build-deb.sh and build-rpm.sh source this file and call `stage_root <root>`, so the two
# packages cannot drift apart. Run directly, `packaging/linux/stage-root.sh <root>` lays out the
# tree alone (to look at it); <root> is taken relative to the repository. Needs the onedir build
# in dist/ (packaging/build.sh).
set -euo pipefail

# FHS's place for a program's private files. Not /opt: no distribution package owns /opt, so a
# package that puts files there lists /opt as its own and its removal warns that it is not empty.
APP_DIR=/usr/lib/handshake-doctor
PACKAGE_NAME=handshake-doctor
PACKAGE_LICENSE=MIT
PACKAGE_MAINTAINER="Handshake Doctor <maintainers@handshake-doctor.invalid>"
# Debian's synopsis style (lower case, no full stop); the .rpm capitalises the first letter.
PACKAGE_SUMMARY="find out why this computer cannot make a secure (TLS) connection"
# Wrapped as both package managers show it; no blank lines (the .deb's control file would need
# them written as " .").
PACKAGE_DESCRIPTION='Handshake Doctor answers the question behind every "SSL handshake failed": it
checks the clock, the trust store, proxies, interception software, DNS, the
network and the site'"'"'s certificate, shows traffic-light results with
step-by-step fixes for this operating system, and names the single most
likely cause. The window and a headless "handshake-doctor check" command.'

# Bundled copies of system libraries that the package's dependencies provide (PyInstaller took
# them from the build machine); from the system they get the distribution's security updates.
# Qt's own libraries, ICU, libpython, PySide6 and shiboken are not in this list.
UNBUNDLE=(
  'libX11.so.*' 'libX11-xcb.so.*' 'libXau.so.*' 'libXdmcp.so.*' 'libxcb*.so.*'
  'libxkbcommon.so.*' 'libxkbcommon-x11.so.*' 'libfontconfig.so.*' 'libfreetype.so.*'
  'libpng16.so.*' 'libdbus-1.so.*' 'libglib-2.0.so.*' 'libgthread-2.0.so.*' 'libpcre2-8.so.*'
  'libz.so.*' 'libbz2.so.*' 'liblzma.so.*' 'libzstd.so.*' 'liblz4.so.*' 'libbrotli*.so.*'
  'libexpat.so.*' 'libbsd.so.*' 'libmd.so.*' 'libcap.so.*' 'libgcrypt.so.*' 'libgpg-error.so.*'
  'libsystemd.so.*' 'libstdc++.so.*' 'libgcc_s.so.*' 'libssl.so.*' 'libcrypto.so.*'
  'libffi.so.*'
)

# Lays out <root>$APP_DIR, /usr/bin/handshake-doctor, the desktop entry, the hicolor icons, the
# AppStream metadata and the copyright file from dist/ and packaging/ (run from the repository).
stage_root() {
  local root=${1:?stage_root needs the folder to lay the tree out in}
  local app=dist/handshake-doctor
  [ -x "$app/handshake-doctor" ] || {
    echo "error: $app is missing: run packaging/build.sh" >&2
    return 1
  }
  local version
  version=$(cat dist/VERSION)
  mkdir -p "$root$(dirname "$APP_DIR")" "$root/usr/bin"

  # --- The app --------------------------------------------------------------------------------
  cp -a "$app" "$root$APP_DIR"
  # Relative, as Debian policy and rpmlint want a link that stays within /usr.
  ln -s "..${APP_DIR#/usr}/handshake-doctor" "$root/usr/bin/handshake-doctor"
  local pattern
  for pattern in "${UNBUNDLE[@]}"; do
    find "$root$APP_DIR/_internal" -maxdepth 1 -name "$pattern" -delete
  done

  # --- Desktop integration --------------------------------------------------------------------
  install -Dm644 packaging/linux/handshake-doctor.desktop \
    "$root/usr/share/applications/handshake-doctor.desktop"
  local png size
  for png in packaging/icon/png/*.png; do
    size=$(basename "$png" .png)
    install -Dm644 "$png" "$root/usr/share/icons/hicolor/$size/apps/handshake-doctor.png"
  done
  install -Dm644 packaging/icon/handshake-doctor.svg \
    "$root/usr/share/icons/hicolor/scalable/apps/handshake-doctor.svg"
  local release_date
  release_date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)
  install -d "$root/usr/share/metainfo"
  sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$release_date/" \
    packaging/linux/handshake-doctor.metainfo.xml \
    >"$root/usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml"
  install -d "$root/usr/share/doc/handshake-doctor"
  cat >"$root/usr/share/doc/handshake-doctor/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: handshake-doctor
Comment: Bundles Python, Qt 6 (LGPL-3.0) through PySide6, ICU, cryptography, pyOpenSSL, certifi
 (MPL-2.0), psutil, ntplib and truststore; their licences are in $APP_DIR/_internal.

Files: *
License: $PACKAGE_LICENSE
COPYRIGHT

  if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$root/usr/share/applications/handshake-doctor.desktop"
  fi
  if command -v appstreamcli >/dev/null; then
    appstreamcli validate --no-net --pedantic --explain \
      "$root/usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml" >/dev/null
  fi

  # Directories 755 whatever the umask; files keep their modes (programs and libraries 755).
  find "$root" -type d -exec chmod 755 {} +
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  [ $# -eq 1 ] || { echo "usage: $0 <root>" >&2; exit 2; }
  cd "$(dirname "$0")/../.."
  [ ! -e "$1" ] || { echo "error: $1 exists; give a new folder" >&2; exit 1; }
  stage_root "$1"
  echo "ok: $1"
fi
