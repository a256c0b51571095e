"""Run the ``deployable`` command as ``python -m pytest_deployable``."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
