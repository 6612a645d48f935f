"""`python -m naftiko_runtime` is the same as the `naftiko-runtime` command."""

from __future__ import annotations

import sys

from naftiko_runtime.cli import main

if __name__ == "__main__":
    sys.exit(main())
