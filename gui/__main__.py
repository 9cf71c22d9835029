"""Runs Handshake Doctor as `python -m gui`."""

import sys

from gui.launcher import main

# Guarded: the diagnosis process ("spawn") imports the main module again under another name.
if __name__ == "__main__":
    sys.exit(main())
