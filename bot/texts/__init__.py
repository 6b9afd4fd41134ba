"""Every sentence a user can see, one module per feature, all read as `texts.X` (plain text: no
markup to escape), in the language of the update or job being handled (bot/i18n.py): the English
here is each message's id in the gettext catalogs (bot/locales, made with scripts/catalogs.sh)."""

from bot.texts._shared import *
from bot.texts.access import *
from bot.texts.common import *
from bot.texts.conversations import *
from bot.texts.failures import *
from bot.texts.failures import _FREE as _FREE  # tests/test_i18n.py checks each refusal says it
from bot.texts.history import *
from bot.texts.incoming import *
from bot.texts.inline import *
from bot.texts.languages import *
from bot.texts.limits import *
from bot.texts.payments import *
from bot.texts.presets import *
from bot.texts.queue import *
from bot.texts.results import *
from bot.texts.settings import *
from bot.texts.stickers import *
from bot.texts.words import *
