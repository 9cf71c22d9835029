"""Checks that every shared library the .deb's programs link to is bundled or in its Depends."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

# Part of every Debian/Ubuntu system (Priority: required); no Depends needed beyond libc6's version.
BASE_PACKAGES = {"libc6", "libc-bin"}


def is_elf(path: Path) -> bool:
    """Whether `path` is a regular ELF file (not a symlink)."""
    if not path.is_file() or path.is_symlink():
        return False
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def needed(path: Path) -> list[str]:
    """The sonames `path` links to directly (DT_NEEDED)."""
    out = subprocess.run(
        ["readelf", "-d", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def glibc_versions(path: Path) -> set[tuple[int, ...]]:
    """The GLIBC_x.y symbol versions `path` requires."""
    out = subprocess.run(
        ["readelf", "--version-info", "-W", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return {tuple(int(n) for n in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)}


def system_libraries() -> dict[str, str]:
    """soname -> path of this machine's 64-bit shared libraries, from the ldconfig cache."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        match = re.match(r"\s+(\S+) \(([^)]*)\) => (\S+)", line)
        if match and ("x86-64" in match[2] or "AArch64" in match[2] or "64bit" in match[2]):
            found.setdefault(match[1], match[3])
    return found


def owner(path: str) -> str | None:
    """The Debian package that installed `path`, or None."""
    for candidate in (path, str(Path(path).resolve())):
        done = subprocess.run(
            ["dpkg", "-S", candidate], check=False, capture_output=True, text=True
        )
        if done.returncode == 0:
            for line in done.stdout.splitlines():
                if not line.startswith("diversion"):
                    return line.split(":", 1)[0].strip()
    return None


def depends_names(depends: str) -> set[str]:
    """Every package name a Depends field accepts (alternatives included, versions dropped)."""
    names = set()
    for clause in depends.split(","):
        for alternative in clause.split("|"):
            name = alternative.strip().split(" ")[0].split("(")[0].split(":")[0]
            if name:
                names.add(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path, help="the staged app folder, e.g. .../usr/lib/app")
    parser.add_argument("--depends", default="", help="the package's Depends field")
    parser.add_argument(
        "--print-glibc", action="store_true", help="print only the lowest glibc version needed"
    )
    args = parser.parse_args(argv)
    elves = [p for p in sorted(args.root.rglob("*")) if is_elf(p)]
    if args.print_glibc:
        versions = set().union(*(glibc_versions(p) for p in elves)) or {(2, 17)}
        print(".".join(str(n) for n in max(versions)))
        return 0
    bundled = {p.name for p in args.root.rglob("*") if p.is_file()}
    system = system_libraries()
    allowed = depends_names(args.depends) | BASE_PACKAGES
    problems: list[str] = []
    owners: dict[str, str] = {}
    looked_up: dict[str, str | None] = {}
    for elf in elves:
        for soname in needed(elf):
            if soname in bundled:
                continue
            if soname not in looked_up:
                where = system.get(soname)
                looked_up[soname] = owner(where) if where else None
            package = looked_up[soname]
            if package is None:
                problems.append(f"{elf.relative_to(args.root)}: {soname} is not found here")
            elif package not in allowed:
                problems.append(
                    f"{elf.relative_to(args.root)}: {soname} comes from {package}, not in Depends"
                )
            else:
                owners[soname] = package
    for soname, package in sorted(owners.items()):
        print(f"ok: {soname} <- {package}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
