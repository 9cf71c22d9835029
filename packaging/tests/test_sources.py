"""Fast checks of the packaging sources that need no build: hook, icons, installer scripts."""

from __future__ import annotations

import ast
import importlib.util
import os
import plistlib
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PACKAGING = Path(__file__).resolve().parents[1]
ROOT = PACKAGING.parent
SPEC = PACKAGING / "handshake-doctor.spec"
ICONS = PACKAGING / "icon"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spec_constant(name: str) -> str:
    match = re.search(rf'^{name} = "([^"]+)"$', SPEC.read_text("utf-8"), re.MULTILINE)
    assert match, f"{name} not in the spec"
    return match[1]


# --- The runtime hook -------------------------------------------------------------------------

hook = load(PACKAGING / "hooks" / "rthook_truststore.py", "rthook_truststore")
FEDORA_FILES = {"/etc/pki/tls/certs/ca-bundle.crt"}
FEDORA_DIRS = {"/etc/ssl/certs"}


def choose_on_fedora(environ: dict[str, str], cafile: str, capath: str) -> dict[str, str]:
    result: dict[str, str] = hook.choose(
        environ,
        cafile,
        capath,
        is_file=FEDORA_FILES.__contains__,
        is_dir=FEDORA_DIRS.__contains__,
    )
    return result


def test_hook_points_a_debian_built_openssl_at_fedoras_bundle() -> None:
    chosen = choose_on_fedora({}, "/usr/lib/ssl/cert.pem", "/usr/lib/ssl/certs")
    assert chosen == {
        "SSL_CERT_FILE": "/etc/pki/tls/certs/ca-bundle.crt",
        "SSL_CERT_DIR": "/etc/ssl/certs",
    }


def test_hook_leaves_existing_defaults_alone() -> None:
    chosen = choose_on_fedora({}, "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs")
    assert chosen == {}


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_hook_never_overrides_the_users_variables(variable: str) -> None:
    chosen = choose_on_fedora({variable: "/home/me/ca.pem"}, "/nope/cert.pem", "/nope/certs")
    assert chosen == {}


def test_hook_sets_nothing_when_no_bundle_exists() -> None:
    chosen = hook.choose(
        {}, "/nope/cert.pem", "/nope/certs", is_file=lambda _: False, is_dir=lambda _: False
    )
    assert chosen == {}


def test_hook_marks_what_it_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        hook, "choose", lambda *args, **kwargs: {"SSL_CERT_FILE": "/etc/ssl/cert.pem"}
    )
    environ: dict[str, str] = {}
    assert hook.apply(environ) == {"SSL_CERT_FILE": "/etc/ssl/cert.pem"}
    assert environ == {"SSL_CERT_FILE": "/etc/ssl/cert.pem", hook.MARKER: "1"}


def test_hook_marks_nothing_when_it_sets_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hook, "choose", lambda *args, **kwargs: {})
    environ: dict[str, str] = {}
    hook.apply(environ)
    assert environ == {}


def test_hook_does_nothing_when_not_frozen() -> None:
    assert not getattr(sys, "frozen", False)
    assert hook.MARKER not in os.environ


# --- Icons ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("icons")
    render = load(ICONS / "render.py", "render_icons")
    assert render.main(["--out", str(out)]) == 0
    return out


def pixels(data: bytes) -> bytes:
    """The decoded pixels of a PNG (or any image Qt reads) as ARGB32 bytes."""
    from PySide6.QtGui import QImage

    image = QImage.fromData(data)
    assert not image.isNull()
    return bytes(image.convertToFormat(QImage.Format.Format_ARGB32).constBits())


def close(a: bytes, b: bytes, tolerance: int = 3) -> bool:
    """Equal within `tolerance` per channel (rasterisers may round differently elsewhere)."""
    if a == b:
        return True
    return len(a) == len(b) and all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def ico_entries(data: bytes) -> list[bytes]:
    count = struct.unpack("<H", data[4:6])[0]
    entries = []
    for index in range(count):
        length, offset = struct.unpack("<II", data[14 + 16 * index : 22 + 16 * index])
        entries.append(data[offset : offset + length])
    return entries


def icns_entries(data: bytes) -> dict[bytes, bytes]:
    entries, offset = {}, 8
    while offset < len(data):
        kind, length = (
            data[offset : offset + 4],
            struct.unpack(">I", data[offset + 4 : offset + 8])[0],
        )
        entries[kind] = data[offset + 8 : offset + length]
        offset += length
    return entries


def test_committed_icons_are_rendered_from_the_svg(rendered: Path) -> None:
    # Compared as pixels: the PNG bytes depend on the zlib and libpng Qt uses on each system.
    stale = "is stale: run packaging/icon/render.py"
    for png in sorted((ICONS / "png").glob("*.png")):
        fresh = (rendered / "png" / png.name).read_bytes()
        assert close(pixels(png.read_bytes()), pixels(fresh)), f"{png.name} {stale}"
    ico = "handshake-doctor.ico"
    for ours, theirs in zip(
        ico_entries((ICONS / ico).read_bytes()),
        ico_entries((rendered / ico).read_bytes()),
        strict=True,
    ):
        if ours.startswith(b"\x89PNG"):
            assert close(pixels(ours), pixels(theirs)), f"{ico} {stale}"
        else:
            assert close(ours, theirs), f"{ico} {stale}"
    icns = "handshake-doctor.icns"
    ours_icns = icns_entries((ICONS / icns).read_bytes())
    theirs_icns = icns_entries((rendered / icns).read_bytes())
    assert ours_icns.keys() == theirs_icns.keys()
    for kind in ours_icns:
        if kind in (b"icp4", b"icp5", b"ic11"):  # the small ones: a full comparison is cheap
            assert close(pixels(ours_icns[kind]), pixels(theirs_icns[kind])), f"{icns} {stale}"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_sizes() -> None:
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert png_size((ICONS / "png" / f"{size}x{size}.png").read_bytes()) == (size, size)


def test_ico_holds_every_size_up_to_256() -> None:
    data = (ICONS / "handshake-doctor.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = []
    for index in range(count):
        width, _height, _, _, planes, bits, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * index : 22 + 16 * index]
        )
        assert (planes, bits) == (1, 32)
        assert offset + length <= len(data)
        sizes.append(width or 256)
    assert sizes == [16, 24, 32, 48, 64, 128, 256]


def test_icns_elements() -> None:
    data = (ICONS / "handshake-doctor.icns").read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    offset, kinds = 8, {}
    while offset < len(data):
        kind, length = (
            data[offset : offset + 4],
            struct.unpack(">I", data[offset + 4 : offset + 8])[0],
        )
        kinds[kind] = png_size(data[offset + 8 : offset + length])[0]
        offset += length
    assert offset == len(data)
    assert kinds[b"ic10"] == 1024
    assert kinds[b"icp4"] == 16


def test_app_icon_is_the_window_icons_artwork(rendered: Path) -> None:
    window_icon = ROOT / "resources" / "icons" / "app.svg"
    if not window_icon.exists():
        pytest.skip("no resources/icons/app.svg")
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QImage

    render = load(ICONS / "render.py", "render_icons_compare")
    ours = render.render(128)
    render.SOURCE = window_icon
    theirs = render.render(128)
    assert isinstance(ours, QImage)
    assert isinstance(theirs, QImage)
    assert QByteArray(ours.constBits().tobytes()) == QByteArray(theirs.constBits().tobytes()), (
        "packaging/icon/handshake-doctor.svg and resources/icons/app.svg should draw the same icon"
    )


# --- Installer sources ------------------------------------------------------------------------


def test_spec_is_python_and_names_what_the_installers_expect() -> None:
    ast.parse(SPEC.read_text("utf-8"))
    assert spec_constant("NAME") == "handshake-doctor"
    nsi = (PACKAGING / "windows" / "handshake-doctor.nsi").read_text("utf-8")
    assert '!define APP_EXE "handshake-doctor.exe"' in nsi


def test_info_plist() -> None:
    with (PACKAGING / "macos" / "Info.plist").open("rb") as handle:
        info: dict[str, Any] = plistlib.load(handle)
    assert info["CFBundleIdentifier"] == spec_constant("BUNDLE_ID")
    assert info["CFBundleExecutable"] == spec_constant("NAME")
    assert info["CFBundleIconFile"] == "handshake-doctor.icns"
    assert info["CFBundlePackageType"] == "APPL"
    assert info["NSHighResolutionCapable"] is True


def test_shell_scripts() -> None:
    scripts = sorted(PACKAGING.rglob("*.sh"))
    for script in scripts:
        if script.name == "install-system-packages.sh":
            continue
        text = script.read_text("utf-8")
        assert text.startswith("#!/usr/bin/env bash\n"), script
        assert "\nset -euo pipefail\n" in text, f"{script} lacks set -euo pipefail"
        assert os.access(script, os.X_OK), f"{script} is not executable"
        subprocess.run(["bash", "-n", str(script)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", *map(str, scripts)], check=True)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_desktop_entry() -> None:
    subprocess.run(
        ["desktop-file-validate", str(PACKAGING / "linux" / "handshake-doctor.desktop")],
        check=True,
    )


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="needs appstream")
def test_appstream_metadata(tmp_path: Path) -> None:
    text = (PACKAGING / "linux" / "handshake-doctor.metainfo.xml").read_text("utf-8")
    filled = tmp_path / "org.handshakedoctor.HandshakeDoctor.metainfo.xml"
    filled.write_text(text.replace("@VERSION@", "1.2.3").replace("@DATE@", "2026-01-01"))
    subprocess.run(
        ["appstreamcli", "validate", "--no-net", "--pedantic", str(filled)],
        check=True,
        capture_output=True,
    )


def test_checking_a_build_writes_under_build_and_dist_only() -> None:
    """`make package-test` and `make package-bench` leave the tracked tree as it was: what they
    draw and measure goes under build/ (a person copies it into docs/ on purpose)."""
    checkers = [
        PACKAGING / "test-frozen.sh",
        *sorted((PACKAGING / "linux").glob("*.sh")),
        *sorted((PACKAGING / "macos").glob("*.sh")),
    ]
    for script in checkers:
        code = [line for line in script.read_text("utf-8").splitlines()
                if not line.lstrip().startswith("#")]  # fmt: skip
        assert not [line for line in code if "docs/" in line], f"{script} writes into docs/"
    bench = (PACKAGING / "bench_package.py").read_text("utf-8")
    out = next(line for line in bench.splitlines() if '"--out"' in line)
    assert 'ROOT / "build"' in out, out
    makefile = (ROOT / "Makefile").read_text("utf-8")
    # A fresh build is reused: the checking targets depend on the finished build's mark.
    assert "package-bench: dist/.packaged" in makefile
    assert "package-test: dist/.packaged" in makefile
