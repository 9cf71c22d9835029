"""Packs a built folder into a reproducible .zip (the portable copy for Windows)."""

from __future__ import annotations

import argparse
import os
import stat
import time
import zipfile
from pathlib import Path

# ZIP stores local times from 1980 on; SOURCE_DATE_EPOCH pins them so that the same commit gives
# the same archive, byte for byte.
ZIP_EPOCH = 315532800


def archive_time() -> tuple[int, int, int, int, int, int]:
    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH") or time.time()), ZIP_EPOCH)
    return time.gmtime(epoch)[:6]


def entry(name: str, mode: int, when: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when)
    info.create_system = 3  # Unix: the permission bits below are read by unzip and Finder
    if name.endswith("/"):
        info.external_attr = ((stat.S_IFDIR | 0o755) << 16) | 0x10
    else:
        executable = mode & stat.S_IXUSR or name.lower().endswith(".exe")
        info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def pack(folder: Path, out: Path, top: str, extras: dict[str, Path]) -> int:
    """Writes `folder` as `top/...` plus `extras` (name inside `top` -> file); returns the count."""
    when = archive_time()
    members: dict[str, Path] = {}
    for path in folder.rglob("*"):
        if path.is_symlink():
            raise SystemExit(f"error: {path} is a symbolic link, which a Windows .zip cannot hold")
        members[f"{top}/{path.relative_to(folder).as_posix()}" + ("/" if path.is_dir() else "")] = (
            path
        )
    for name, path in extras.items():
        members[f"{top}/{name}"] = path
    members[f"{top}/"] = folder
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compresslevel=9) as archive:
        for name in sorted(members):
            path = members[name]
            info = entry(name, path.stat().st_mode, when)
            if name.endswith("/"):
                archive.writestr(info, b"")
            else:
                with path.open("rb") as source, archive.open(info, "w") as target:
                    while chunk := source.read(1 << 20):
                        target.write(chunk)
    partial.replace(out)
    return len(members)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="the built folder, e.g. dist/handshake-doctor")
    parser.add_argument("out", type=Path, help="the .zip to write")
    parser.add_argument("--top", required=True, help="the folder name inside the archive")
    parser.add_argument(
        "--add", action="append", default=[], metavar="NAME=FILE",
        help="also put FILE into the archive's folder as NAME",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder: build it first (packaging/build.sh)")
    extras = {}
    for item in args.add:
        name, _, file = item.partition("=")
        extras[name] = Path(file)
    count = pack(args.folder, args.out, args.top, extras)
    size = args.out.stat().st_size / 1e6
    print(f"ok: {args.out} ({count} entries, {size:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
