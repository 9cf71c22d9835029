#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Handshake Doctor needs to run and to be tested.
# Usage: install-system-packages.sh run|test. Does nothing for packages already present;
# without root or apt it prints what is missing and carries on.
set -euo pipefail
purpose=${1:-run}

# Qt offscreen rendering, fonts (without fonts Qt draws empty boxes), and Python venv support.
packages=(python3-venv libglib2.0-0 libgl1 libegl1 libfontconfig1 fonts-dejavu-core
          fonts-wqy-microhei libxkbcommon0 libdbus-1-3)
# Real windows on X11.
packages+=(libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
           libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-shm0 libxcb-sync1
           libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0)
if [ "$purpose" = test ]; then
  # binutils for PyInstaller; xvfb for screenshots of a real window; the lab's real servers:
  # nginx (TLS virtual hosts), chrony (NTP), faketime (a wrong clock), mitmproxy (interception);
  # what checks the installers' sources: nsis (makensis), desktop-file-utils, appstream and
  # the shell linter; what builds and tests the .deb: dpkg-dev, imagemagick, xdotool, strace;
  # what builds and checks the .rpm: rpm (rpmbuild, rpm2cpio) and cpio;
  # xclip, with xvfb and xdotool, drives the real window through the soak test; iproute2 builds
  # the field matrix's networks (tests/field).
  packages+=(binutils xvfb xauth nginx chrony faketime mitmproxy iproute2
             nsis desktop-file-utils appstream shellcheck dpkg-dev imagemagick xdotool xclip strace
             rpm cpio)
  # osslsigncode signs the Windows installer in the signing step's test.
  packages+=(osslsigncode)
  # The programs whose results the programs check reproduces (tests/lab/test_programs_lab.py
  # runs each against the lab's servers); openssl and python3 are already there.
  packages+=(curl wget git nodejs default-jre-headless)
  # Mail, directory and database servers the STARTTLS lab starts privately (their own
  # configuration, data folder and loopback ports; the system services stay stopped), and the
  # clients whose results the programs check reproduces for those protocols.
  packages+=(dovecot-imapd dovecot-pop3d slapd ldap-utils postgresql mariadb-client)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "note: not a Debian/Ubuntu system; install the equivalents of: ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "note: run as root (or with sudo) to install: ${missing[*]}" >&2
    exit 0
  fi
fi
echo "installing: ${missing[*]}"
${SUDO:-} env DEBIAN_FRONTEND=noninteractive apt-get update -qq
${SUDO:-} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
