"""Who may use the bot: admins, listed users, members of listed chats, messages sent on behalf
of listed chats, or everyone with ALLOW_EVERYONE=true and no lists (but a channel posting in a
group only if it is itself listed); the admins' /allow and /deny add to those lists, and a /deny
wins over any of them but ADMIN_USER_IDS. Policy only: the door
handler (handlers/access.py) asks it and turns the others away."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cachetools import TTLCache
from telegram import Bot, Chat
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.config import AccessSettings
from bot.overrides import Overrides

log = logging.getLogger(__name__)

# A refused user is told once in this many seconds, so that they are not spammed in groups.
REFUSAL_INTERVAL = 3600.0
# Membership of an allowed chat is looked up again after this many seconds.
MEMBERSHIP_TTL = 600.0
# ...or after this many, when Telegram could not say (an error, a timeout): soon enough not to
# keep a member out for long, late enough that a burst of messages costs one lookup.
UNSURE_TTL = 30.0
_MEMBER_STATUSES = {
    ChatMemberStatus.OWNER,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.MEMBER,
    ChatMemberStatus.RESTRICTED,
}


class Doorkeeper:
    """Admins, listed users, the members of listed chats and messages sent on behalf of listed
    chats get in; with ALLOW_EVERYONE=true and no lists, everyone."""

    def __init__(
        self,
        access: AccessSettings,
        clock: Callable[[], float] = time.monotonic,
        overrides: Overrides | None = None,
    ) -> None:
        self._access = access
        self._overrides = overrides or Overrides()
        # Bounded and self-expiring: a bot runs for months, and strangers keep coming.
        self._told: TTLCache[int, bool] = TTLCache(100_000, REFUSAL_INTERVAL, timer=clock)
        self._members: TTLCache[int, bool] = TTLCache(100_000, MEMBERSHIP_TTL, timer=clock)
        self._unsure: TTLCache[int, bool] = TTLCache(100_000, UNSURE_TTL, timer=clock)
        self._overrides.on_change(self._forget)

    def _forget(self, subject: int) -> None:
        """An admin let `subject` in or kept it out: what was remembered about anyone's way in
        may be wrong now (a chat's members too), and a refusal is told again."""
        self._members.clear()
        self._unsure.clear()
        self._told.pop(subject, None)

    async def allows(
        self, bot: Bot, user_id: int, chat: Chat | None, sender_chat: Chat | None = None
    ) -> bool:
        access, overrides = self._access, self._overrides
        if sender_chat is None and user_id in access.admin_user_ids:
            return True  # an admin cannot be shut out from Telegram, only from .env
        subjects = (user_id, chat.id if chat else None, sender_chat.id if sender_chat else None)
        if any(s is not None and overrides.denied(s) for s in subjects):
            return False
        allowed_chats = self._allowed_chats()
        if sender_chat is not None and (chat is None or sender_chat.id != chat.id):
            # A channel posting in a group: Telegram hides who writes as it, and anyone can make
            # channels, so neither the group's allowance nor an open bot lets one in; only
            # letting in that very channel does.
            return sender_chat.id in allowed_chats
        if access.is_open or (chat is not None and chat.id in allowed_chats):
            return True
        # The user of a message sent on behalf of a chat is a service account that stands for
        # everyone doing so: only the chat can be let in, never the account as a user.
        if sender_chat is not None:
            return False
        if user_id in access.allowed_user_ids or overrides.allowed(user_id):
            return True
        return await self._member_of_an_allowed_chat(bot, user_id)

    def _allowed_chats(self) -> tuple[int, ...]:
        return self._access.allowed_chat_ids + self._overrides.allowed_chats

    async def _member_of_an_allowed_chat(self, bot: Bot, user_id: int) -> bool:
        cached = self._members.get(user_id)
        if cached is not None:
            return cached
        if user_id in self._unsure:
            return False
        member, sure = False, True
        for chat_id in self._allowed_chats():
            try:
                status = (await bot.get_chat_member(chat_id, user_id)).status
            except TelegramError as exc:
                log.info("membership of %s in %s unknown: %s", user_id, chat_id, exc)
                sure = False
                continue
            if status in _MEMBER_STATUSES:
                member = True
                break
        # Only a definite answer is kept for long: a failed lookup must not lock a member out.
        if member or sure:
            self._members[user_id] = member
        else:
            self._unsure[user_id] = True
        return member

    def should_tell(self, sender_id: int) -> bool:
        if sender_id in self._told:
            return False
        self._told[sender_id] = True
        return True


def warn_about_access(access: AccessSettings) -> None:
    """At start-up: who will be served, when that is not just the allow-lists, and which
    setting changes it."""
    if access.is_open:
        limit = f"{access.daily_images} images a day" if access.daily_images else "no daily limit"
        log.warning(
            "ALLOW_EVERYONE=true and no allow-list: anyone who finds this bot can use it, and "
            "every image is paid from your Eden AI account; non-admins have %s "
            "(USER_DAILY_IMAGES, USER_MONTHLY_BUDGET_USD)",
            limit,
        )
    elif access.allow_everyone:
        log.warning(
            "ALLOW_EVERYONE=true is ignored: ALLOWED_USER_IDS or ALLOWED_CHAT_IDS is set, and "
            "only those (and ADMIN_USER_IDS) are served"
        )
    elif not access.has_allow_list:
        log.warning(
            "Neither ALLOWED_USER_IDS nor ALLOWED_CHAT_IDS is set: only ADMIN_USER_IDS (%s) are "
            "served. Anyone else who messages the bot is told their id, and it is logged: add "
            "it to ALLOWED_USER_IDS or ADMIN_USER_IDS, or set ALLOW_EVERYONE=true to serve "
            "everyone",
            ", ".join(map(str, access.admin_user_ids)) or "none yet",
        )
