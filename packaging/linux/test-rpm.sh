#!/usr/bin/env bash
# Checks dist/handshake-doctor-*.rpm on this (Debian) machine without installing it into the
# system: its metadata; that it owns only its own files and folders, never /usr/lib or the hicolor
# folders; that it requires no library it bundles and provides nothing but its name; then runs the
# app extracted from it (its version, and a headless check of a loopback TLS server compared with
# the same run from source), and installs and erases it in a private root with `rpm --root` to
# check that erasing leaves nothing of it. Talks only to 127.0.0.1.
# As root (rpm --root sets the files' owners). Needs rpm, rpm2cpio, cpio. PYTHON as in build.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=$repo/.venv/bin/python; else PYTHON=python3; fi
fi
[ "$(id -u)" -eq 0 ] || { echo "error: run as root (rpm --root installs as root)" >&2; exit 1; }
for tool in rpm rpm2cpio cpio; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (Debian: rpm, cpio)" >&2; exit 1; }
done
version=$(cat dist/VERSION 2>/dev/null || true)
package=dist/handshake-doctor-$version-1.$(rpm --eval '%{_arch}').rpm
[ -f "$package" ] || { echo "error: no $package: run packaging/linux/build-rpm.sh" >&2; exit 1; }
app_dir=/usr/lib/handshake-doctor

work=$(mktemp -d)
lab_pid=""
cleanup() {
  if [ -n "$lab_pid" ]; then kill "$lab_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
# shellcheck source=packaging/linux/against-source.sh
source packaging/linux/against-source.sh
# Queries open an rpm database; a throwaway one, not Debian rpm's default ~/.rpmdb.
query() { rpm --dbpath "$work/db" "$@"; }

step "rpm -qpi $package"
query --checksig --nosignature "$package"
query -qpi "$package"
[ "$(query -qp --qf '%{NAME} %{VERSION} %{LICENSE}' "$package")" = "handshake-doctor $version MIT" ]

step "rpm -qpl: the package's own files and folders only"
query -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$package" >"$work/files.txt"
foreign=()
while read -r mode path; do
  case "$path" in
    "$app_dir" | "$app_dir"/* | /usr/share/doc/handshake-doctor) continue ;;
  esac
  # Anything else must be a file (or the /usr/bin link) that is the package's own, not a folder.
  case "$mode:$path" in
    -*:/usr/share/applications/handshake-doctor.desktop) ;;
    -*:/usr/share/icons/hicolor/*/apps/handshake-doctor.png) ;;
    -*:/usr/share/icons/hicolor/scalable/apps/handshake-doctor.svg) ;;
    -*:/usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml) ;;
    -*:/usr/share/doc/handshake-doctor/copyright) ;;
    l*:/usr/bin/handshake-doctor) ;;
    *) foreign+=("$mode $path") ;;
  esac
done <"$work/files.txt"
if [ ${#foreign[@]} -ne 0 ]; then
  printf 'error: not the package'"'"'s own: %s\n' "${foreign[@]}" >&2
  exit 1
fi
for file in "$app_dir/handshake-doctor" /usr/bin/handshake-doctor \
  /usr/share/applications/handshake-doctor.desktop \
  /usr/share/icons/hicolor/scalable/apps/handshake-doctor.svg \
  /usr/share/icons/hicolor/48x48/apps/handshake-doctor.png \
  /usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml \
  /usr/share/doc/handshake-doctor/copyright; do
  grep -q " $file\$" "$work/files.txt" || { echo "error: $file is not in the package" >&2; exit 1; }
done
grep -q "^d[^ ]* $app_dir\$" "$work/files.txt" ||
  { echo "error: the package does not own $app_dir" >&2; exit 1; }
echo "ok: $(wc -l <"$work/files.txt") files and folders, all the package's own"

step "extract with rpm2cpio | cpio"
mkdir "$work/root"
rpm2cpio "$package" | (cd "$work/root" && cpio -idm --quiet)
# The /usr/bin link is relative, so it leads to the extracted app here as it does when installed.
[ "$(readlink -f "$work/root/usr/bin/handshake-doctor")" = "$work/root$app_dir/handshake-doctor" ]
program=$work/root/usr/bin/handshake-doctor

step "rpm -qp --requires / --provides"
query -qp --requires "$package" | tee "$work/requires.txt"
# Every library the bundle carries, by file name: none may be required from the system.
find "$work/root$app_dir" \( -type f -o -type l \) \( -name '*.so' -o -name '*.so.*' \) \
  -printf '%f\n' | sort -u >"$work/bundled.txt"
sed -n 's/^\([^ (]*\.so[^ (]*\)(.*/\1/p' "$work/requires.txt" | sort -u >"$work/required.txt"
both=$(comm -12 "$work/bundled.txt" "$work/required.txt")
[ -z "$both" ] || { echo "error: requires libraries it bundles: $both" >&2; exit 1; }
# What a Qt app on X11 needs from any distribution, and the explicit ones.
for need in 'libc.so.6()(64bit)' 'libX11.so.6()(64bit)' 'libxcb.so.1()(64bit)' \
  'libfontconfig.so.1()(64bit)' 'libssl.so.3()(64bit)' ca-certificates 'font(:lang=en)'; do
  grep -qxF "$need" "$work/requires.txt" || { echo "error: does not require $need" >&2; exit 1; }
done
if grep -E '^(python|perl|/)' "$work/requires.txt"; then
  echo "error: requires an interpreter (a script in the bundle was taken for the system's)" >&2
  exit 1
fi
provides=$(query -qp --provides "$package" | sed 's/ = .*//' | sort | tr '\n' ' ')
echo "provides: $provides"
[ "$provides" = "handshake-doctor handshake-doctor$(rpm --eval '%{_isa}') " ] ||
  { echo "error: provides more than its name: $provides" >&2; exit 1; }
echo "ok: $(wc -l <"$work/required.txt") system libraries required, none of the $(wc -l <"$work/bundled.txt") bundled"

check_against_source "$program" "$work" "$version" "the extracted app"

step "rpm --root: install, verify, erase in a private root"
# An empty root holds no glibc or Qt dependencies, hence --nodeps; the package has no scriptlets.
# rpm makes the parent folders it does not own (/usr/lib, hicolor/<size>/apps...) and leaves them
# on erase, as on a real system where other packages own them; everything else must go.
# (Debian's rpm says to use alien instead; that is about its own system, not a private root.)
rpmroot=$work/rpmroot
mkdir "$rpmroot"
rpm --root "$rpmroot" --dbpath /var/lib/rpm --initdb
rpm --root "$rpmroot" --dbpath /var/lib/rpm -i --nodeps --noscripts "$repo/$package"
rpm --root "$rpmroot" --dbpath /var/lib/rpm -V --nodeps handshake-doctor
[ -x "$rpmroot$app_dir/handshake-doctor" ]
rpm --root "$rpmroot" --dbpath /var/lib/rpm -e handshake-doctor
if rpm --root "$rpmroot" --dbpath /var/lib/rpm -q handshake-doctor >/dev/null; then
  echo "error: still installed after rpm -e" >&2
  exit 1
fi
left=$(cd "$rpmroot" && find . -mindepth 1 -path ./var -prune -o \
  \( ! -type d -o -name 'handshake-doctor*' \) -print)
[ -z "$left" ] || { echo "error: rpm -e left behind: $left" >&2; exit 1; }
echo "ok: installed, verified (rpm -V) and erased; no file or folder of the package is left"
printf '\nall .rpm checks passed (%s)\n' "$package"
