"""`python -m crocbot` is the same as the `crocbot` command."""

from __future__ import annotations

import sys

from crocbot.cli import main

if __name__ == "__main__":
    sys.exit(main())
