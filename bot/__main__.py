"""Entry point: `python -m bot` runs the bot; `check`, `generate` and `health` help operate it."""

from __future__ import annotations

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
