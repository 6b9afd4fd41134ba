"""Every sentence a user can see, in one place (plain text: no markup to escape)."""

from __future__ import annotations

from datetime import datetime

from bot.config import StarPack
from bot.fidelity import Delivered
from bot.policy import (
    CoolingDown,
    DailyImagesReached,
    GroupBudgetReached,
    LimitReached,
    MonthlyBudgetReached,
    QuotaReached,
    TooManyInFlight,
    UsageReport,
)
from bot.storage import AuditEntry, DayTotals, Limits, Payment, Spend, UserTotals
from bot.upstream import errors as e

TELEGRAM_TEXT_LIMIT = 4096

TELEGRAM_CAPTION_LIMIT = 1024

HELP = """\
I draw pictures with Google's Gemini image models.

• Send me a description and I reply with an image.
• Send a photo (or an image file) with a caption saying what to change, and I edit it.
• Reply to any photo, or to one of my pictures, to edit it; keep replying to refine it.
• Send an album with a caption to combine several photos.
• In a group, mention me (@{username}) or reply to me.

/ratio - aspect ratio (e.g. /ratio 16:9)
/size - resolution (e.g. /size 2K)
/format - send results as photos or as files
/model - the image model
/settings - this chat's settings
/usage - your images and spend
/cancel - stop your picture in progress
/help - this message"""

COMMANDS: tuple[tuple[str, str], ...] = (
    ("ratio", "Show or set the aspect ratio, e.g. /ratio 16:9"),
    ("size", "Show or set the resolution: 512, 1K, 2K or 4K"),
    ("format", "Send results as photos or as files"),
    ("model", "Show or set the image model"),
    ("settings", "This chat's settings"),
    ("usage", "Your images and spend, and what is left"),
    ("cancel", "Stop your picture in progress"),
    ("help", "What I do and how to use me"),
)

PHOTO_WITHOUT_CAPTION = (
    "To edit this photo, send it again with a caption saying what to change, "
    "e.g. “make it a watercolor painting”."
)
EMPTY_PROMPT = "Tell me what to draw, e.g. “a lighthouse at dusk, oil painting”."
UNSUPPORTED_MESSAGE = (
    "I can only work with text and photos. Describe the picture you want, "
    "or send a photo with a caption saying what to change."
)
NOT_AN_IMAGE = "I couldn't read that as an image. Please send a JPEG, PNG, WEBP or HEIC picture."
NOT_AN_IMAGE_FILE = (
    "That file isn't an image. I can edit JPEG, PNG, WEBP and HEIC pictures, "
    "sent as photos or as files."
)
INPUT_TOO_LARGE = "That file is too large for me to download (Telegram's limit for bots is 20 MB)."
DOWNLOAD_FAILED = "I couldn't download your image from Telegram. Please send it again."
BROKEN_IMAGE = (
    "That image seems to be cut off or damaged, so I couldn't read it. "
    "Please send it again, or another copy of it."
)
FIRST_FRAME_ONLY = "Your image is animated: I used its first frame only."
SETTINGS_ADMINS_ONLY = "Only this group's administrators can change its settings."
INTERRUPTED = "The bot restarted while working on this. Please send it again."
CANCELLED = "Cancelled."
NOTHING_TO_CANCEL = "You have no picture in progress here."
NOTHING_TO_CANCEL_HERE = "That picture is already done or cancelled."
NOT_YOURS_TO_CANCEL = "Only the person who asked for this picture can cancel it."
CANCEL_BUTTON = "Cancel"
UNKNOWN_COMMAND = "I don't know that command. Send /help to see what I can do."
UNEXPECTED_ERROR = "Sorry, something went wrong on my side. Please try again in a moment."
# Answers to a button tap (Telegram shows at most 200 characters).
UNKNOWN_BUTTON = "This button isn't one of mine, or is out of date. Send /settings to start again."


def button_choice_gone(label: str, command: str) -> str:
    return f"That {label} can't be chosen now. Send /{command} for the current choices."


def queued(ahead: int) -> str:
    if ahead == 0:
        return "Queued: you're next."
    return f"Queued: {ahead} ahead of you."


def setting_current(label: str, value: str, allowed: tuple[str, ...], example: str) -> str:
    return (
        f"Current {label}: {value}\nAllowed: {', '.join(allowed)}\n"
        f"Tap a button or type, e.g., {example}"
    )


def settings_overview(model: str, ratio: str, size: str, output_format: str) -> str:
    return (
        f"This chat's settings:\n"
        f"Model: {model}\nAspect ratio: {ratio}\nSize: {size}\nResults as: {output_format}\n\n"
        "Change them with /model, /ratio, /size and /format."
    )


def setting_fell_back(label: str, old: str, new: str, model: str) -> str:
    return f"{model} can't do the {label} {old}, so this chat now uses {new}."


def images_left_out(used: int, given: int) -> str:
    return f"This model takes at most {used} images, so I used the first {used} of your {given}."


def too_many_pixels(limit: int) -> str:
    return (
        f"That image has too many pixels for me: I take up to {limit / 1e6:.0f} megapixels. "
        "Please send a smaller version."
    )


def result_caption(prompt: str, delivered: Delivered, cost_usd: float | None) -> str:
    """The prompt, trimmed to fit Telegram's caption limit, then the ratio, tier and pixels the
    picture really has, the cost, and what was asked where the picture differs."""
    shape = delivered.shape
    # A real multiplication sign: the caption is read by people, not parsed.
    pixels = f"{shape.width}×{shape.height}"  # noqa: RUF001
    details = f"{shape.aspect_ratio} · {shape.image_size} · {pixels}"
    if cost_usd is not None:
        details += f" · ${cost_usd:.3f}"
    asked = [a for a in (delivered.asked_ratio, delivered.asked_size) if a]
    if asked:
        details += f" (asked {' · '.join(asked)})"
    room = TELEGRAM_CAPTION_LIMIT - _telegram_length(details) - 2
    if _telegram_length(prompt) > room:
        prompt = prompt[: room - 1]
        while _telegram_length(prompt) > room - 1:
            prompt = prompt[:-1]
        prompt = prompt.rstrip() + "…"
    return f"{prompt}\n\n{details}"


def _telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units, so an emoji may count twice."""
    return len(text.encode("utf-16-le")) // 2


def setting_changed(label: str, value: str) -> str:
    return f"Done: the {label} is now {value}. It applies to every image in this chat."


def setting_unknown(label: str, given: str, allowed: tuple[str, ...]) -> str:
    return f"“{_echo(given)}” is not a valid {label}. Choose one of: {', '.join(allowed)}"


# Of a user's own text quoted back: enough to recognise it, never enough to pass Telegram's limit.
ECHO_LIMIT = 40


def _echo(given: str) -> str:
    return given if len(given) <= ECHO_LIMIT else given[:ECHO_LIMIT].rstrip() + "…"


def setting_unsupported(label: str, value: str, model: str, allowed: tuple[str, ...]) -> str:
    return f"{model} can't make the {label} {value}. It can do: {', '.join(allowed)}"


_TELL_OPERATOR = "Retrying won't help; please tell the bot's operator."


def upstream_failure(error: e.UpstreamError) -> str:
    """What went wrong, and whether trying again can help."""
    if isinstance(error, e.NoImageReturned):
        return _refusal(error)
    if isinstance(error, e.ServiceUnavailable):
        return (
            "The image service is down right now, so I didn't send this. "
            "Please try again in a few minutes."
        )
    if isinstance(error, e.HostedImageFailed):
        return (
            "The image was made, but I couldn't fetch it from where the image service stored "
            "it. Please try again; if it keeps happening, tell the bot's operator."
        )
    if isinstance(error, e.ReplyTooLarge):
        return "The image service sent more than I can handle. Please try a smaller size."
    if error.retryable:
        # The retrying layer has already tried again: say so, then when the user should.
        tried = f" (I tried {error.attempts} times)" if error.attempts > 1 else ""
        return f"{_transient(error)}{tried}. Please try again {_when(error)}."
    if isinstance(error, e.AuthenticationFailed):
        return f"The bot's image-service key was refused. {_TELL_OPERATOR}"
    if isinstance(error, e.InsufficientCredits):
        return f"The bot's image-service account is out of credit. {_TELL_OPERATOR}"
    if isinstance(error, e.ModelNotFound | e.ChatCompletionsUnsupported):
        return f"The configured image model isn't available. {_TELL_OPERATOR}"
    return "The image service refused this request. Try rephrasing it or using another photo."


def _transient(error: e.UpstreamError) -> str:
    if isinstance(error, e.UpstreamTimeout):
        return "The image service took too long to answer"
    if isinstance(error, e.TransportError):
        return "I couldn't reach the image service"
    if isinstance(error, e.RateLimited):
        return "The image service is busy right now"
    return "The image service had a problem making this image"


def _when(error: e.UpstreamError) -> str:
    if isinstance(error, e.RateLimited) and error.retry_after:
        return f"in about {error.retry_after:.0f} seconds"
    return "in a minute"


_SAFETY_REASONS = {"content_filter", "image_safety", "safety", "prohibited_content", "blocklist"}


def _refusal(error: e.NoImageReturned) -> str:
    reason = (error.finish_reason or "").lower()
    if error.model_text:
        text = f"No image this time. The model said:\n\n{error.model_text}"
    elif reason in _SAFETY_REASONS:
        text = (
            "No image this time: the request was blocked by the model's safety filter. "
            "Try rephrasing it."
        )
    else:
        text = "No image this time: the model answered without one. Try rephrasing your request."
    return text[:TELEGRAM_TEXT_LIMIT]


# ---- access, limits and usage ----------------------------------------------------------------
ADMINS_ONLY = "That command is for the bot's administrators."


def access_refused(user_id: int) -> str:
    return (
        "Sorry, this bot is private. If you should have access, send the bot's operator "
        f"your Telegram user id: {user_id}"
    )


def access_refused_chat(chat_id: int) -> str:
    return (
        "Sorry, this bot is private. Messages sent on behalf of a group or channel count as "
        f"that chat: if it should have access, send the bot's operator its id: {chat_id}"
    )


def _until(moment: datetime, now: datetime) -> str:
    left = max(0, int((moment - now).total_seconds()))
    hours, minutes = divmod(left // 60, 60)
    return f"{moment:%-d %B %H:%M} UTC (in {hours} h {minutes} min)"


def limit_reached(error: LimitReached, now: datetime, selling: bool = False) -> str:
    text = _limit_reached(error, now)
    if selling and isinstance(error, QuotaReached):
        text += " You can buy more images with Telegram Stars: /buy"
    return text


def _limit_reached(error: LimitReached, now: datetime) -> str:
    if isinstance(error, TooManyInFlight):
        pictures = "a picture" if error.limit == 1 else f"{error.limit} pictures"
        return f"You already have {pictures} in progress. Send this again when it's done."
    if isinstance(error, CoolingDown):
        return f"Please wait {max(1, round(error.wait_seconds))} s before your next picture here."
    if isinstance(error, DailyImagesReached) and error.left:
        return (
            f"That's {error.asked} images, and you have {error.left} of today's {error.limit} "
            f"left. The limit resets at {_until(error.resets_at, now)}."
        )
    if isinstance(error, DailyImagesReached):
        return (
            f"You've used all {error.limit} of today's images. "
            f"The limit resets at {_until(error.resets_at, now)}."
        )
    if isinstance(error, GroupBudgetReached):
        return (
            f"This group has used its budget of ${error.budget_usd:.2f} for this month "
            f"(spent ${error.spent_usd:.2f}), so I can't draw more here until "
            f"{_until(error.resets_at, now)}."
        )
    if isinstance(error, MonthlyBudgetReached):
        return (
            f"You've used this month's budget of ${error.budget_usd:.2f} "
            f"(spent ${error.spent_usd:.2f}). It resets on {_until(error.resets_at, now)}."
        )
    return "You've reached a usage limit. Please try again later."


def _spend(spend: Spend) -> str:
    estimate = " (partly estimated)" if spend.estimated else ""
    return (
        f"{spend.images} image{'s' if spend.images != 1 else ''}, ${spend.cost_usd:.3f}{estimate}"
    )


def usage(report: UsageReport) -> str:
    lines = [f"Today: {_spend(report.today)}", f"This month: {_spend(report.month)}"]
    if report.exempt:
        lines.append("As an administrator you have no limits.")
    else:
        if report.daily_limit:
            left = max(0, report.daily_limit - report.today.images)
            lines.append(f"Left today: {left} of {report.daily_limit} images")
        if report.monthly_budget_usd:
            left_usd = max(0.0, report.monthly_budget_usd - report.month.cost_usd)
            lines.append(f"Left this month: ${left_usd:.2f} of ${report.monthly_budget_usd:.2f}")
        if not report.daily_limit and not report.monthly_budget_usd:
            lines.append("No limits are set.")
    if report.credits is not None:
        lines.append(
            f"Bought credits: {report.credits} image{'s' if report.credits != 1 else ''} "
            "(used when the free ones run out; /buy for more)"
        )
    return "Your usage (days and months in UTC)\n" + "\n".join(lines)


def stats(days: list[DayTotals], users: list[UserTotals], failures: list[tuple[str, int]]) -> str:
    lines = ["Last 7 days (UTC)"]
    lines += [f"{d.day}: {d.ok} ok, {d.failed} failed, ${d.cost_usd:.2f}" for d in days] or [
        "no requests"
    ]
    lines.append("\nTop users")
    lines += [f"{u.user_id}: {u.images} images, ${u.cost_usd:.2f}" for u in users] or ["none"]
    lines.append("\nFailures by kind")
    lines += [f"{kind}: {count}" for kind, count in failures] or ["none"]
    return "\n".join(lines)


# ---- the /stats chart --------------------------------------------------------------------------
CHART_IMAGES = "Images per day (blue: delivered, red: failed)"
CHART_SPEND = "Spend per day (USD)"
CHART_NO_FAILURES = "No failures."


def chart_title(days: int) -> str:
    return f"Usage over the last {days} days (UTC)"


def chart_failures(days: int) -> str:
    return f"Failures by kind, last {days} days"


# ---- admin commands ----------------------------------------------------------------------------
ADMIN_COMMANDS = """Admin commands (changes take effect at once and are kept in the database):
/allow <id> - let a user (or, with a negative id, a chat) in
/deny <id> - keep a user or chat out (wins over every list but ADMIN_USER_IDS)
/quota <user> <images per day> - 0 = unlimited
/budget <user or chat> <USD per month> - 0 = unlimited
/refund <charge id> - refund a Telegram Stars payment
Instead of an id, reply to the person's message."""
ADMIN_NEEDS_TARGET = "Whom? Give a user id (a chat's is negative), or reply to their message."
ADMIN_CANNOT_DENY_ADMIN = "That's an administrator from ADMIN_USER_IDS: change .env instead."


def admin_bad_number(given: str, what: str) -> str:
    return f"“{_echo(given)}” is not a valid {what}. {ADMIN_COMMANDS}"


def _subject(subject_id: int) -> str:
    return f"chat {subject_id}" if subject_id < 0 else f"user {subject_id}"


def admin_access_changed(subject_id: int, allowed: bool) -> str:
    if allowed:
        return f"Done: {_subject(subject_id)} is let in."
    return f"Done: {_subject(subject_id)} is kept out."


def admin_quota_changed(subject_id: int, images: int) -> str:
    limit = f"{images} images a day" if images else "no daily limit"
    return f"Done: {_subject(subject_id)} now has {limit}."


def admin_budget_changed(subject_id: int, usd: float) -> str:
    budget = f"a budget of ${usd:.2f} a month" if usd else "no monthly budget"
    return f"Done: {_subject(subject_id)} now has {budget}."


def _limits(limits: Limits) -> str:
    parts = []
    if limits.daily_images is not None:
        parts.append(f"{limits.daily_images or 'unlimited'} images/day")
    if limits.monthly_budget_usd is not None:
        budget = f"${limits.monthly_budget_usd:.2f}" if limits.monthly_budget_usd else "unlimited"
        parts.append(f"{budget}/month")
    return ", ".join(parts)


def _audit_line(entry: AuditEntry) -> str:
    what = entry.action
    if entry.subject_id is not None:
        what += f" {entry.subject_id}"
    if entry.value:
        what += f" {entry.value}"
    return f"{entry.at:%Y-%m-%d %H:%M} by {entry.admin_id}: {what}"


def admin_overview(
    rules: dict[int, bool], limits: dict[int, Limits], audit: list[AuditEntry]
) -> str:
    """What admins changed from Telegram, on top of .env, and the latest changes."""
    lines = ["Set from Telegram (on top of .env)"]
    allowed = [str(s) for s, a in sorted(rules.items()) if a]
    denied = [str(s) for s, a in sorted(rules.items()) if not a]
    lines.append(f"Allowed: {', '.join(allowed) or 'none'}")
    lines.append(f"Denied: {', '.join(denied) or 'none'}")
    lines.append("Limits:")
    lines += [f"  {s}: {_limits(lim)}" for s, lim in sorted(limits.items())] or ["  none"]
    lines.append("\nLatest changes (UTC)")
    lines += [_audit_line(entry) for entry in audit] or ["none"]
    return "\n".join(lines) + "\n\n" + ADMIN_COMMANDS


# ---- Telegram Stars ----------------------------------------------------------------------------
STAR_COMMANDS: tuple[tuple[str, str], ...] = (
    ("buy", "Buy more images with Telegram Stars"),
    ("paysupport", "Help with a payment"),
)
NOT_SELLING = "This bot doesn't sell images."
PACK_GONE = "That pack is no longer on sale. Send /buy to see the current ones."
PAYMENT_REFUSED = "That pack is no longer on sale at this price. Send /buy to see the current ones."
PAYSUPPORT = (
    "Help with a payment\n\n"
    "Stars buy image credits: one credit is one picture, used only when your free images (or "
    "this month's budget) run out. A picture that fails, or that you cancel, gives its credit "
    "back. /usage shows your balance.\n\n"
    "If something went wrong with a payment, write to the bot's operator and include the charge "
    "id from the payment's receipt (Telegram keeps it in the chat). Refunds are made in Stars, "
    "to the account that paid."
)
REFUND_USAGE = "Usage: /refund <charge id> (from the payment's receipt, or the log)."
REFUND_UNKNOWN = "I have no payment with that charge id."
REFUND_ALREADY = "That payment was already refunded."


def refund_failed(reason: str) -> str:
    return f"Telegram refused the refund: {_echo(reason)}"


def buy_offer(packs: tuple[StarPack, ...], balance: int) -> str:
    lines = [
        f"You have {balance} bought image{'s' if balance != 1 else ''}. Packs for sale:",
        *(f"• {pack_label(p)}" for p in packs),
        "\nCredits are used when your free images run out; a failed picture gives its back.",
        "Help with payments: /paysupport",
    ]
    return "\n".join(lines)


def pack_label(pack: StarPack) -> str:
    return f"{pack.images} images for {pack.stars} ⭐"


def invoice_title(pack: StarPack) -> str:
    return f"{pack.images} images"


def invoice_description(pack: StarPack) -> str:
    return (
        f"{pack.images} image credits, used when your free daily images run out. "
        "A picture that fails gives its credit back."
    )


def payment_received(credits: int, balance: int) -> str:
    return f"Thank you! {credits} images added; you now have {balance}."


def payment_already_counted(balance: int) -> str:
    return f"This payment was already counted; you have {balance} bought images."


def refunded(payment: Payment, balance: int) -> str:
    return f"Refunded {payment.stars} ⭐ to user {payment.user_id}; their bought images: {balance}."


# ---- the buttons under a result --------------------------------------------------------------
AGAIN_BUTTON = "🔁 Again"
FOUR_BUTTON = "×4"  # noqa: RUF001 (a real multiplication sign, read by people)
RATIO_BUTTON = "Ratio…"
BACK_BUTTON = "« Back"
# Answers to a tap on them (Telegram shows at most 200 characters).
RESULT_BUTTON_TAKEN = "On it: a new picture is coming."
RESULT_BUTTON_UNKNOWN = "I don't know this picture's request. Please send the prompt again."
RESULT_MODEL_GONE = "This picture's model isn't offered any more. Please send the prompt again."
RESULT_CANNOT_ENLARGE = "I can't make this picture larger. Please send the prompt again."


def larger_button(size: str) -> str:
    return f"⬆ {size}"


def result_button_expired(days: int) -> str:
    return (
        f"I keep requests for {days} days, and this one is older, so I no longer have it. "
        "Please send the prompt again."
    )


# ---- inline mode -----------------------------------------------------------------------------
INLINE_DESCRIPTION = "With the settings of your private chat with me"
INLINE_OPEN_BOT = "Open the bot"
INLINE_PRIVATE = "This bot is private: tap to get your user id"


def inline_title(prompt: str) -> str:
    return f"Draw: {prompt}"


def inline_drawing(prompt: str) -> str:
    return f"Drawing: {prompt}…"


def inline_start_first(username: str) -> str:
    return (
        f"I can't send you the picture yet: open a chat with @{username}, press Start, "
        "then try again."
    )
