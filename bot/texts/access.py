"""Who may use the bot, and the administrators' commands."""

from __future__ import annotations

from bot.i18n import Text, ngettext
from bot.i18n import gettext as _
from bot.store.storage import AuditEntry, Limits, Payment
from bot.texts._shared import dollars, echo

__all__ = [
    "ADMINS_ONLY",
    "ADMIN_BUDGET_NUMBER",
    "ADMIN_CANNOT_DENY_ADMIN",
    "ADMIN_COMMANDS",
    "ADMIN_NEEDS_TARGET",
    "ADMIN_QUOTA_NUMBER",
    "access_refused",
    "access_refused_chat",
    "admin_access_changed",
    "admin_bad_number",
    "admin_budget_changed",
    "admin_chat_needs_id",
    "admin_overview",
    "admin_quota_changed",
]

ADMINS_ONLY = Text("That command is for the bot's administrators.")


def access_refused(user_id: int) -> str:
    return _(
        "Sorry, this bot is private. If you should have access, send the bot's operator "
        "your Telegram user id: {id}"
    ).format(id=user_id)


def access_refused_chat(chat_id: int) -> str:
    return _(
        "Sorry, this bot is private. Messages sent on behalf of a group or channel count as "
        "that chat: if it should have access, send the bot's operator its id: {id}"
    ).format(id=chat_id)


ADMIN_COMMANDS = Text("""Admin commands (changes take effect at once and are kept in the database):
/allow <id> - let a user (or, with a negative id, a chat) in
/deny <id> - keep a user or chat out (wins over every list but ADMIN_USER_IDS)
/quota <user> <images per day> - 0 = unlimited
/budget <user or chat> <USD per month> - 0 = unlimited
/refund <charge id> - refund a Telegram Stars payment
Instead of an id, reply to the person's message.""")
ADMIN_NEEDS_TARGET = Text("Whom? Give a user id (a chat's is negative), or reply to their message.")


def admin_chat_needs_id(chat_id: int) -> str:
    return _(
        "That message was sent on behalf of a chat, not by a user. To change what the whole "
        "chat may do, give its id after the command: {id}"
    ).format(id=chat_id)


ADMIN_CANNOT_DENY_ADMIN = Text("That's an administrator from ADMIN_USER_IDS: change .env instead.")
# What /quota and /budget expect, for admin_bad_number.
ADMIN_QUOTA_NUMBER = Text("number of images per day")
ADMIN_BUDGET_NUMBER = Text("budget in USD")


def admin_bad_number(given: str, what: Text) -> str:
    return _("“{given}” is not a valid {what}.").format(given=echo(given), what=what()) + (
        "\n" + ADMIN_COMMANDS()
    )


def _subject(subject_id: int) -> str:
    if subject_id < 0:
        return _("chat {id}").format(id=subject_id)
    return _("user {id}").format(id=subject_id)


def admin_access_changed(subject_id: int, allowed: bool) -> str:
    if allowed:
        return _("Done: {subject} is let in.").format(subject=_subject(subject_id))
    return _("Done: {subject} is kept out.").format(subject=_subject(subject_id))


def admin_quota_changed(subject_id: int, images: int) -> str:
    if images:
        return ngettext(
            "Done: {subject} now has {n} image a day.",
            "Done: {subject} now has {n} images a day.",
            images,
        ).format(subject=_subject(subject_id), n=images)
    return _("Done: {subject} now has no daily limit.").format(subject=_subject(subject_id))


def admin_budget_changed(subject_id: int, usd: float) -> str:
    if usd:
        return _("Done: {subject} now has a budget of ${budget} a month.").format(
            subject=_subject(subject_id), budget=dollars(usd)
        )
    return _("Done: {subject} now has no monthly budget.").format(subject=_subject(subject_id))


def _limits(limits: Limits) -> str:
    unlimited = _("unlimited")
    parts = []
    if limits.daily_images is not None:
        images = limits.daily_images or unlimited
        parts.append(_("{images} images/day").format(images=images))
    if limits.monthly_budget_usd is not None:
        budget = f"${limits.monthly_budget_usd:.2f}" if limits.monthly_budget_usd else unlimited
        parts.append(_("{budget}/month").format(budget=budget))
    return ", ".join(parts)


def _audit_line(entry: AuditEntry) -> str:
    what = entry.action
    if entry.subject_id is not None:
        what += f" {entry.subject_id}"
    if entry.value:
        what += f" {entry.value}"
    return _("{at} by {admin}: {what}").format(
        at=f"{entry.at:%Y-%m-%d %H:%M}", admin=entry.admin_id, what=what
    )


def admin_overview(
    rules: dict[int, bool],
    limits: dict[int, Limits],
    audit: list[AuditEntry],
    unrecorded: list[Payment],
) -> str:
    """What admins changed from Telegram, on top of .env, the latest changes, and payments the
    database has not taken yet."""
    none = _("none")
    lines = [_("Set from Telegram (on top of .env)")]
    allowed = [str(s) for s, a in sorted(rules.items()) if a]
    denied = [str(s) for s, a in sorted(rules.items()) if not a]
    lines.append(_("Allowed: {ids}").format(ids=", ".join(allowed) or none))
    lines.append(_("Denied: {ids}").format(ids=", ".join(denied) or none))
    lines.append(_("Limits:"))
    lines += [f"  {s}: {_limits(lim)}" for s, lim in sorted(limits.items())] or [f"  {none}"]
    lines.append("\n" + _("Latest changes (UTC)"))
    lines += [_audit_line(entry) for entry in audit] or [none]
    if unrecorded:
        lines.append("\n" + _("Payments not in the database yet (credited at the next start):"))
        lines += [f"  {p.charge_id}: {p.user_id}, {p.stars} ⭐" for p in unrecorded]
    return "\n".join(lines) + "\n\n" + ADMIN_COMMANDS()
