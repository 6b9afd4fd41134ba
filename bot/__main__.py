"""Entry point: `python -m bot` reads the settings and runs the bot with long polling."""

from __future__ import annotations

import sys

from telegram import Update

from bot.app import build_application
from bot.config import ConfigError, load_settings
from bot.logs import configure_logging


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.bot.log_level, settings.secrets)
    # The bot installs its own SIGINT/SIGTERM handling (a graceful stop with a grace period for
    # requests in flight); run_polling's would stop at once.
    build_application(settings).run_polling(allowed_updates=Update.ALL_TYPES, stop_signals=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
