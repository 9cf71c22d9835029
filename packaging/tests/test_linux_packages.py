"""The release workflow's .deb and .rpm steps, run as written over a tiny onedir build.

The build is laid out from real ELF files of this machine: the program is a copy of
/usr/bin/clear, which links to libtinfo, and libtinfo is bundled next to it the way PyInstaller
bundles Qt; a bundled copy of zlib stands for the system libraries the packages leave out. So
the .rpm must not require the bundled libtinfo, and neither package may carry the zlib copy.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

APP_DIR = "/usr/lib/handshake-doctor"
VERSION = "1.2.3"
# Passed to the steps as the workflow does (from the commit): the .rpm's times come from it.
EPOCH = "1700000000"
PROGRAM = Path("/usr/bin/clear")
UNBUNDLED = "libz.so.1"
# Folders that many packages list as the parents of their files; any other folder must be ours.
SHARED_DIRS = re.compile(
    r"/usr(/bin|/lib|/share(/applications|/doc|/metainfo"
    r"|/icons(/hicolor(/(\d+x\d+|scalable)(/apps)?)?)?)?)?"
)
OWN_DIRS = re.compile(rf"{APP_DIR}(/.*)?|/usr/share/doc/handshake-doctor")

needs_readelf = pytest.mark.skipif(
    shutil.which("readelf") is None or shutil.which("ldconfig") is None,
    reason="needs readelf (Debian: binutils) and ldconfig",
)
needs_dpkg_deb = pytest.mark.skipif(
    shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian: dpkg)"
)
needs_rpmbuild = pytest.mark.skipif(
    shutil.which("rpmbuild") is None, reason="needs rpmbuild (Debian: rpm)"
)


def output(*command: str | Path) -> str:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def needed(elf: Path) -> list[str]:
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", output("readelf", "-d", elf))


def library_path(soname: str) -> Path:
    """Where this machine's 64-bit `soname` is, from the ldconfig cache."""
    for line in output("ldconfig", "-p").splitlines():
        match = re.match(r"\s+(\S+) \(([^)]*)\) => (\S+)", line)
        if match and match[1] == soname and "64" in match[2]:
            return Path(match[3])
    raise AssertionError(f"{soname} is not in the ldconfig cache")


@pytest.fixture
def bundled(checkout: Path) -> list[str]:
    """dist/ as packaging/build.sh leaves it, in miniature; the sonames the bundle carries."""
    dist = checkout / "dist"
    (dist / "VERSION").write_text(f"{VERSION}\n")
    internal = dist / "handshake-doctor" / "_internal"
    internal.mkdir(parents=True)
    shutil.copy(PROGRAM, dist / "handshake-doctor" / "handshake-doctor")
    sonames = [name for name in needed(PROGRAM) if not name.startswith(("libc.so", "ld-linux"))]
    assert sonames, f"{PROGRAM} links to nothing but libc: no library to bundle"
    for name in [*sonames, UNBUNDLED]:
        shutil.copy(library_path(name), internal / name)
        (internal / name).chmod(0o755)  # as PyInstaller leaves them
    return sonames


def run_step(workflows: Any, name: str, checkout: Path) -> None:
    done = workflows.run(
        "release.yml", "build", name, checkout, env={"SOURCE_DATE_EPOCH": EPOCH}, timeout=120
    )
    assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    assert re.search(r"^ok: dist/\S+ \(", done.stdout, re.MULTILINE), done.stdout


def deb_entries(deb: Path) -> dict[str, str]:
    """path -> the entry's type letter ('d', '-', 'l'), as the .deb's data tarball lists it."""
    entries = {}
    for line in output("dpkg-deb", "-c", deb).splitlines():
        mode, *_, path = line.split(" -> ")[0].split()
        entries[path.removeprefix(".").rstrip("/") or "/"] = mode[0]
    return entries


def rpm_query(rpm: Path, tmp_path: Path, *query: str) -> str:
    # Queries open an rpm database: a throwaway one (Debian's rpm would make ~/.rpmdb).
    return output("rpm", "--dbpath", tmp_path / "rpmdb", "-qp", *query, rpm)


def rpm_entries(rpm: Path, tmp_path: Path) -> dict[str, str]:
    listing = rpm_query(rpm, tmp_path, "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]")
    return {path: mode[0] for mode, path in (line.split(" ", 1) for line in listing.splitlines())}


def build_deb(workflows: Any, checkout: Path) -> Path:
    run_step(workflows, ".deb", checkout)
    arch = output("dpkg", "--print-architecture").strip()
    return checkout / "dist" / f"handshake-doctor_{VERSION}_{arch}.deb"


def build_rpm(workflows: Any, checkout: Path) -> Path:
    run_step(workflows, ".rpm", checkout)
    arch = output("rpm", "--eval", "%{_arch}").strip()
    return checkout / "dist" / f"handshake-doctor-{VERSION}-1.{arch}.rpm"


def assert_owns_only_its_own(entries: dict[str, str], bundled: list[str]) -> None:
    folders = {path for path, kind in entries.items() if kind == "d"}
    foreign = {path for path in folders if not (OWN_DIRS.fullmatch(path) or path == "/")}
    assert not {path for path in foreign if not SHARED_DIRS.fullmatch(path)}, foreign
    assert f"{APP_DIR}/handshake-doctor" in entries
    assert entries["/usr/bin/handshake-doctor"] == "l"
    for name in bundled:
        assert f"{APP_DIR}/_internal/{name}" in entries
    assert f"{APP_DIR}/_internal/{UNBUNDLED}" not in entries, "a system library stayed bundled"
    for path in (
        "/usr/share/applications/handshake-doctor.desktop",
        "/usr/share/icons/hicolor/48x48/apps/handshake-doctor.png",
        "/usr/share/icons/hicolor/scalable/apps/handshake-doctor.svg",
        "/usr/share/metainfo/org.handshakedoctor.HandshakeDoctor.metainfo.xml",
        "/usr/share/doc/handshake-doctor/copyright",
    ):
        assert entries.get(path) == "-", path


@needs_readelf
@needs_dpkg_deb
def test_deb_step_installs_into_usr_lib_and_lists_no_opt(
    workflows: Any, checkout: Path, bundled: list[str], tmp_path: Path
) -> None:
    deb = build_deb(workflows, checkout)
    entries = deb_entries(deb)
    assert not [path for path in entries if path == "/opt" or path.startswith("/opt/")]
    assert_owns_only_its_own(entries, bundled)
    # The link is relative: it leads to the app from an unpacked tree as from the installed one.
    listing = output("dpkg-deb", "-c", deb)
    assert "./usr/bin/handshake-doctor -> ../lib/handshake-doctor/handshake-doctor" in listing
    assert output("dpkg-deb", "-f", deb, "Version").strip() == VERSION
    description = output("dpkg-deb", "-f", deb, "Description")
    assert description.startswith("find out why this computer cannot make a secure (TLS)")
    output("dpkg-deb", "-x", deb, tmp_path / "unpacked")
    copyright_text = (tmp_path / "unpacked/usr/share/doc/handshake-doctor/copyright").read_text()
    assert f"{APP_DIR}/_internal" in copyright_text
    assert "/opt" not in copyright_text


@needs_readelf
@needs_rpmbuild
def test_rpm_step_requires_system_libraries_but_none_it_bundles(
    workflows: Any, checkout: Path, bundled: list[str], tmp_path: Path
) -> None:
    rpm = build_rpm(workflows, checkout)
    entries = rpm_entries(rpm, tmp_path)
    assert_owns_only_its_own(entries, bundled)
    # /usr/lib and the hicolor folders belong to the system and hicolor-icon-theme.
    assert not {path for path, kind in entries.items() if kind == "d"} - {
        APP_DIR,
        f"{APP_DIR}/_internal",
        "/usr/share/doc/handshake-doctor",
    }

    requires = rpm_query(rpm, tmp_path, "--requires").splitlines()
    for name in bundled:
        assert not [r for r in requires if r.startswith(f"{name}(")], f"requires bundled {name}"
    assert "libc.so.6()(64bit)" in requires  # what the program and libtinfo link to
    assert "ca-certificates" in requires
    assert "font(:lang=en)" in requires
    provides = [line.split(" = ")[0] for line in rpm_query(rpm, tmp_path, "--provides").split("\n")]
    isa = output("rpm", "--eval", "%{_isa}").strip()  # (x86-64)
    assert sorted(filter(None, provides)) == ["handshake-doctor", f"handshake-doctor{isa}"]

    info = rpm_query(rpm, tmp_path, "--qf", "%{VERSION}-%{RELEASE} %{LICENSE} %{BUILDTIME}")
    assert info == f"{VERSION}-1 MIT {EPOCH}"
    times = rpm_query(rpm, tmp_path, "--qf", "[%{FILEMTIMES}\n]").split()
    assert max(map(int, times)) <= int(EPOCH), "file times not clamped to SOURCE_DATE_EPOCH"
    # Neither stripped nor otherwise rewritten by rpmbuild's post-install scripts.
    listing = rpm_query(rpm, tmp_path, "--qf", "[%{FILEDIGESTS} %{FILENAMES}\n]")
    digests = {path: digest for digest, path in (row.split(" ", 1) for row in listing.splitlines())}
    onedir = checkout / "dist" / "handshake-doctor"
    for original, installed in [
        (onedir / "handshake-doctor", f"{APP_DIR}/handshake-doctor"),
        *((onedir / "_internal" / name, f"{APP_DIR}/_internal/{name}") for name in bundled),
    ]:
        assert digests[installed] == hashlib.sha256(original.read_bytes()).hexdigest(), installed


@needs_readelf
@needs_dpkg_deb
@needs_rpmbuild
def test_deb_and_rpm_install_the_same_tree(
    workflows: Any, checkout: Path, bundled: list[str], tmp_path: Path
) -> None:
    deb = build_deb(workflows, checkout)
    rpm = build_rpm(workflows, checkout)
    deb_files = {path: kind for path, kind in deb_entries(deb).items() if kind != "d"}
    rpm_files = {path: kind for path, kind in rpm_entries(rpm, tmp_path).items() if kind != "d"}
    assert deb_files == rpm_files
    assert len(deb_files) > len(bundled) + 5
