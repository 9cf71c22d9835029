#!/usr/bin/env bash
# Makes dist/handshake-doctor-<version>-1.<arch>.rpm from the onedir build (run packaging/build.sh
# first) for Fedora, RHEL and openSUSE: the same installed tree as the .deb (stage-root.sh), built
# with rpmbuild -bb from a spec written here. Everything rpmbuild writes stays under build/rpm.
# Its Requires are the sonames the bundled programs link to outside the bundle, as rpm's ELF
# dependency generator names them (libX11.so.6()(64bit), libc.so.6(GLIBC_2.34)(64bit)...): the
# same names on every rpm distribution, where the .deb's Depends has to name Debian's packages.
# Needs rpmbuild (Debian: rpm). Honours SOURCE_DATE_EPOCH (build time and file times).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=packaging/linux/stage-root.sh disable=SC1091
source packaging/linux/stage-root.sh

command -v rpmbuild >/dev/null || { echo "error: rpmbuild is missing (Debian: rpm)" >&2; exit 1; }
[ -x dist/handshake-doctor/handshake-doctor ] ||
  { echo "error: dist/handshake-doctor is missing: run packaging/build.sh" >&2; exit 1; }
version=$(cat dist/VERSION)
arch=$(rpm --eval '%{_arch}')
rpm_name="handshake-doctor-$version-1.$arch.rpm"
# rpmbuild wants absolute paths for its folders. The rpm database it opens is an empty one in
# there (Debian's rpm would make one in ~/.rpmdb).
top=$PWD/build/rpm
root=$top/root
rm -rf "$top" && mkdir -p "$root" "$top/SPECS" "$top/tmp"
# One time for the metadata's release date, the build time and the clamped file times.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date +%s)}
stage_root "$root"

# The libraries the bundle carries, by file name and by SONAME: what its programs link to among
# them must not become a Requires (no system package provides libQt6Core.so.6 or this
# libpython), and the package provides nothing (AutoProv off), so that installing it never offers
# its private Qt, ICU or Python to other packages. Regex metacharacters in sonames ('.', '+')
# become bracket expressions, which need no escaping through rpm's macro expansion.
mapfile -t bundled < <(
  {
    find "$root$APP_DIR" \( -type f -o -type l \) \( -name '*.so' -o -name '*.so.*' \) -printf '%f\n'
    find "$root$APP_DIR" -type f \( -name '*.so' -o -name '*.so.*' \) -exec readelf -d {} + \
      2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p' || true
  } | sort -u | sed 's/[.+]/[&]/g'
)
[ ${#bundled[@]} -gt 0 ] || { echo "error: no bundled libraries in $root$APP_DIR" >&2; exit 1; }
requires_exclude="^($(IFS='|'; echo "${bundled[*]}"))[(]"

# rpm expands % in the spec's text: the shared words are written with %%.
summary=${PACKAGE_SUMMARY^}
description=${PACKAGE_DESCRIPTION//%/%%}
cat >"$top/SPECS/handshake-doctor.spec" <<SPEC
# Written by packaging/linux/build-rpm.sh; the files come from the tree stage-root.sh laid out
# (hd_stage). Not PyInstaller's spec, packaging/handshake-doctor.spec.
Name:           $PACKAGE_NAME
Version:        $version
Release:        1
Summary:        ${summary//%/%%}
License:        $PACKAGE_LICENSE
Packager:       ${PACKAGE_MAINTAINER//%/%%}
# The soname Requires come from rpm's ELF dependency generator.
AutoReq:        yes
AutoProv:       no
# Trust anchors for the checks (the app finds the system bundle where each distribution keeps it).
Requires:       ca-certificates
# Qt draws empty boxes without a font; font(:lang=..) is what Fedora's and openSUSE's font
# packages provide (rpm makes it from fontconfig), whichever font family it is.
Requires:       font(:lang=en)
Recommends:     font(:lang=zh-cn)
# Owns the hicolor/<size>/apps folders the icons go into.
Requires:       hicolor-icon-theme

%global hd_stage $root
%global __requires_exclude $requires_exclude
# The frozen app must stay as PyInstaller laid it out: no stripping, no debuginfo split, no
# build-id links, no byte-compiled copies, no shebang or rpath rewriting (Fedora, openSUSE and
# Debian's rpm run these from the install_post hooks; the Python switches differ by release).
%global __os_install_post %{nil}
%global __arch_install_post %{nil}
%global debug_package %{nil}
%global _build_id_links none
%global __brp_python_bytecompile %{nil}
%global _python_bytecompile_extra 0
%global py_auto_byte_compile 0
# Reproducible: times from SOURCE_DATE_EPOCH, not from a changelog or the clock.
%global source_date_epoch_from_changelog 0
%global use_source_date_epoch_as_buildtime 1
%global clamp_mtime_to_source_date_epoch 1

%description
$description

%prep

%build

%install
mkdir -p %{buildroot}
cp -a "%{hd_stage}/." "%{buildroot}/"

# Only what is the package's own: its folder and files, never /usr/lib or /usr/share/icons.
%files
%defattr(-,root,root,-)
$APP_DIR
/usr/bin/handshake-doctor
/usr/share/applications/handshake-doctor.desktop
/usr/share/icons/hicolor/*/apps/handshake-doctor.png
/usr/share/icons/hicolor/scalable/apps/handshake-doctor.svg
/usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml
%dir /usr/share/doc/handshake-doctor
%license /usr/share/doc/handshake-doctor/copyright
SPEC

# xz with threads: every rpm since 4.6 reads it, and it keeps the .rpm near the .deb's size.
rpmbuild -bb --quiet --dbpath "$top/db" \
  --define "_topdir $top" \
  --define "_tmppath $top/tmp" \
  --define "_buildhost reproducible" \
  --define "_binary_payload w6T.xzdio" \
  --define "use_source_date_epoch_as_buildtime 1" \
  --define "clamp_mtime_to_source_date_epoch 1" \
  "$top/SPECS/handshake-doctor.spec" >"$top/rpmbuild.log" 2>&1 ||
  { cat "$top/rpmbuild.log" >&2; exit 1; }
# Quiet, so what it wrote is warnings.
[ ! -s "$top/rpmbuild.log" ] || cat "$top/rpmbuild.log" >&2

mkdir -p dist && rm -f dist/handshake-doctor-*.rpm
mv "$top/RPMS/$arch/$rpm_name" "dist/$rpm_name"
installed_size=$(rpm --dbpath "$top/db" -qp --qf '%{SIZE}' "dist/$rpm_name")
echo "ok: dist/$rpm_name ($(du -h "dist/$rpm_name" | cut -f1); installed $((installed_size / 1048576)) MB)"
