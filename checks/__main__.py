"""Runs the headless CLI as `python -m checks`."""

import sys

from checks.cli import main

# Guarded: a child process ("spawn", as the PAC evaluation uses) imports the main module again.
if __name__ == "__main__":
    sys.exit(main())
