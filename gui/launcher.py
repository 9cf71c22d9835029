"""The `handshake-doctor` command: the window with no arguments, the headless CLI otherwise."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def has_display() -> bool:
    """Whether a window can be shown; only Linux and the BSDs can lack a display server."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    """Open the window, or run the CLI when given arguments or when there is no display."""
    if getattr(sys, "frozen", False):
        import multiprocessing

        # In a frozen app the diagnosis process is this executable again; this runs it.
        multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        # What `handshake-doctor --version` prints, without loading the CLI (scripts ask often).
        from checks.core.version import __version__

        sys.stdout.write(f"handshake-doctor {__version__}\n")
        return 0
    if args:
        from checks import cli  # the checks are imported by the CLI as a run needs them

        # Called as the command (no `argv`), this process ends when the CLI returns.
        return cli.main(args, own_process=argv is None)
    if not has_display():
        from checks import cli

        sys.stderr.write(
            "handshake-doctor: no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
            "running the headless check instead.\n"
        )
        code = cli.main(["check"], own_process=argv is None)
        # Asked for the window, the user gets the report instead: that is a success whatever
        # it found (`make run` must not end in "Error 1"); usage errors and crashes are not.
        return 0 if code in (cli.EXIT_OK, cli.EXIT_WARN, cli.EXIT_FAIL) else code
    from gui.app import run  # Qt is imported only when a window is really wanted

    return run()


if __name__ == "__main__":
    sys.exit(main())
