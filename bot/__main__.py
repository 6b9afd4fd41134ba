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
    # run_polling stops cleanly on SIGINT and SIGTERM and runs post_shutdown.
    build_application(settings).run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
