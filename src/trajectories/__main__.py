"""``python -m trajectories`` and the ``trajectories`` command (see docs/cli.md)."""

from __future__ import annotations

import sys

from ._internal.cli.main import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
