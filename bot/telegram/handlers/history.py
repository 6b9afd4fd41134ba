"""/history: the user's last pictures in this chat, kept within REQUEST_RETENTION_DAYS, as one
message with pages; each entry runs again or sends its original through the result buttons."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import texts
from bot.telegram.callbacks import CallbackData
from bot.telegram.handlers.access import requester_id
from bot.telegram.result_buttons import past_result_buttons
from bot.telegram.services import BotContext, Services

log = logging.getLogger(__name__)

# The pictures /history lists at most, and per page.
HISTORY_LIMIT = 20
PAGE_SIZE = 5


@dataclass(frozen=True, slots=True)
class HistoryButton(CallbackData, prefix="hist"):
    """◀ ▶ under /history: whose history, and which page."""

    owner: int
    page: int


@dataclass(frozen=True, slots=True)
class Page:
    text: str
    buttons: InlineKeyboardMarkup | None


async def history_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or (who := requester_id(message)) is None:
        return
    page = await _page(context.services, message.chat_id, who, 0)
    assert page is not None  # the first page always exists, if only to say there is none
    await message.reply_text(page.text, reply_markup=page.buttons)


async def history_button(update: Update, context: BotContext) -> None:
    """◀ ▶, for the owner only; a page that no longer exists is stale."""
    query = update.callback_query
    if query is None:
        return
    button = HistoryButton.unpack(query.data)
    if button is None or query.message is None:
        await query.answer(texts.RESULT_BUTTON_UNKNOWN())
        return
    owner, number = button.owner, button.page
    if owner != query.from_user.id:
        log.info("refused another user's /history page")
        await query.answer(texts.HISTORY_NOT_YOURS())
        return
    page = await _page(context.services, query.message.chat.id, owner, number)
    if page is None:
        await query.answer(texts.RESULT_BUTTON_UNKNOWN())
        return
    await query.answer()
    await query.edit_message_text(page.text, reply_markup=page.buttons)


async def _page(services: Services, chat_id: int, user_id: int, number: int) -> Page | None:
    """Page `number` of the user's history in the chat; None if there is no such page."""
    storage = services.storage
    days = services.settings.access.request_retention_days
    since = datetime.now(UTC) - timedelta(days=days)
    total = min(HISTORY_LIMIT, await storage.past_results_count(chat_id, user_id, since))
    pages = max(1, -(-total // PAGE_SIZE))
    if not 0 <= number < pages:
        return None
    offset = number * PAGE_SIZE
    entries = await storage.past_results(
        chat_id, user_id, since, min(PAGE_SIZE, total - offset), offset
    )
    lines = [texts.history_header(total, number + 1, pages)] if total else [texts.HISTORY_EMPTY()]
    lines += [
        texts.history_entry(i, e.prompt, e.created_at) for i, e in enumerate(entries, offset + 1)
    ]
    if forgotten := await storage.forgotten_results(chat_id, user_id, since):
        lines.append(texts.history_forgotten(forgotten, days))
    rows = [past_result_buttons(i, e.job_id) for i, e in enumerate(entries, offset + 1)]
    turns = [
        InlineKeyboardButton(arrow, callback_data=HistoryButton(user_id, to).pack())
        for arrow, to in (("◀", number - 1), ("▶", number + 1))
        if 0 <= to < pages
    ]
    if turns:
        rows.append(turns)
    return Page("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)
