#!/usr/bin/env bash
# After a change to the texts in bot/texts/: extracts them into bot/locales/bot.pot, merges that
# into each language's bot.po (new messages come in empty, for a translator), and compiles the .mo
# files. The .mo files are committed, so that a clone, a pip install and the Docker build need no
# build step; tests/test_i18n.py fails when one is stale or a catalog misses a message.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
pybabel=.venv/bin/pybabel
$pybabel extract -F babel.cfg -k Text -c TRANSLATORS: --no-location --sort-output \
    --project eden-image-bot --copyright-holder "Eden Image Bot contributors" \
    -o bot/locales/bot.pot .
$pybabel update -i bot/locales/bot.pot -d bot/locales -D bot --no-fuzzy-matching \
    --ignore-obsolete
$pybabel compile -d bot/locales -D bot --statistics
