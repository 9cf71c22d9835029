"""The frozen app's entry point: the same `handshake-doctor` command as `gui.launcher:main`."""

import sys

from gui.launcher import main

if __name__ == "__main__":
    sys.exit(main())
