#!/usr/bin/env bash
# Sets up the virtual environment if needed and runs the bot (long polling) with the settings in .env.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .env ] && [ -z "${TELEGRAM_BOT_TOKEN:-}" ]; then
    echo "No .env found: copy .env.example to .env and fill in TELEGRAM_BOT_TOKEN and EDENAI_API_KEY." >&2
    exit 2
fi
scripts/setup-venv.sh
exec .venv/bin/python -m bot "$@"
