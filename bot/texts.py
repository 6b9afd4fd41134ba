"""Every sentence a user can see, in one place (plain text: no markup to escape), in the
language of the update or job being handled (bot/i18n.py): the English here is each message's id
in the gettext catalogs (bot/locales, made with scripts/catalogs.sh)."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_datetime

from bot.config import StarPack
from bot.domain import NoPictureReason
from bot.fidelity import Delivered
from bot.i18n import Text, current, ngettext
from bot.i18n import gettext as _
from bot.jobs.policy import (
    CoolingDown,
    DailyImagesReached,
    GroupBudgetReached,
    LimitReached,
    MonthlyBudgetReached,
    QuotaReached,
    TooManyInFlight,
    UsageReport,
)
from bot.store.storage import AuditEntry, DayTotals, Limits, Payment, Spend, UserTotals
from bot.upstream import errors as e

TELEGRAM_TEXT_LIMIT = 4096

TELEGRAM_CAPTION_LIMIT = 1024

HELP = Text("""\
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
/language - the language I speak with you
/help - this message""")


HELP_TOGETHER = Text("""\
Working on a picture together:
• Replying to one of my pictures continues its conversation: I remember the earlier turns.
• /mode chat - every message continues the conversation, until /new
• /ref add NAME - as a reply to a photo: save it; then write #NAME in a prompt to use it, \
#me for your profile photo. /refs lists them.""")


def help_text(username: str) -> str:
    return f"{HELP().format(username=username)}\n\n{HELP_TOGETHER()}"


# The menu Telegram shows, set for each language at start: (command, description).
COMMANDS: tuple[tuple[str, Text], ...] = (
    ("ratio", Text("Show or set the aspect ratio, e.g. /ratio 16:9")),
    ("size", Text("Show or set the resolution: 512, 1K, 2K or 4K")),
    ("format", Text("Send results as photos or as files")),
    ("model", Text("Show or set the image model")),
    ("settings", Text("This chat's settings")),
    ("usage", Text("Your images and spend, and what is left")),
    ("cancel", Text("Stop your picture in progress")),
    ("history", Text("Your last pictures in this chat")),
    ("describe", Text("Reply to a photo: a prompt that would draw it")),
    ("enhance", Text("Make a short prompt detailed, e.g. /enhance a fox")),
    ("mode", Text("Each message on its own, or a conversation: /mode chat")),
    ("new", Text("Start a new conversation")),
    ("refs", Text("Your saved pictures, to use as #name in a prompt")),
    ("language", Text("Choose the language I speak with you")),
    ("presets", Text("Ready-made styles: sticker, poster, anime…")),
    ("p", Text("Use a preset at once, e.g. /p watercolor a harbour")),
    ("help", Text("What I do and how to use me")),
)

PHOTO_WITHOUT_CAPTION = Text(
    "To edit this photo, send it again with a caption saying what to change, "
    "e.g. “make it a watercolor painting”."
)
EMPTY_PROMPT = Text("Tell me what to draw, e.g. “a lighthouse at dusk, oil painting”.")
UNSUPPORTED_MESSAGE = Text(
    "I can only work with text and photos. Describe the picture you want, "
    "or send a photo with a caption saying what to change."
)
NOT_AN_IMAGE = Text(
    "I couldn't read that as an image. Please send a JPEG, PNG, WEBP or HEIC picture."
)
NOT_AN_IMAGE_FILE = Text(
    "That file isn't an image. I can edit JPEG, PNG, WEBP and HEIC pictures, "
    "sent as photos or as files."
)
INPUT_TOO_LARGE = Text(
    "That file is too large for me to download (Telegram's limit for bots is 20 MB)."
)
DOWNLOAD_FAILED = Text("I couldn't download your image from Telegram. Please send it again.")
BROKEN_IMAGE = Text(
    "That image seems to be cut off or damaged, so I couldn't read it. "
    "Please send it again, or another copy of it."
)
FIRST_FRAME_ONLY = Text("Your image is animated: I used its first frame only.")
SETTINGS_ADMINS_ONLY = Text("Only this group's administrators can change its settings.")
INTERRUPTED = Text("The bot restarted while working on this. Please send it again.")
CANCELLED = Text("Cancelled.")
CANCELLED_PAID = Text("Stopped. This one still counts: its picture was already being made.")
NOTHING_TO_CANCEL = Text("You have no picture in progress here.")
NOTHING_TO_CANCEL_HERE = Text("That picture is already done or cancelled.")
NOT_YOURS_TO_CANCEL = Text("Only the person who asked for this picture can cancel it.")
CANCEL_BUTTON = Text("Cancel")
UNKNOWN_COMMAND = Text("I don't know that command. Send /help to see what I can do.")
UNEXPECTED_ERROR = Text("Sorry, something went wrong on my side. Please try again in a moment.")
# The settings, as their sentences name them.
RATIO = Text("aspect ratio")
SIZE = Text("size")
FORMAT = Text("result format")
MODEL = Text("model")
# Answers to a button tap (Telegram shows at most 200 characters).
UNKNOWN_BUTTON = Text(
    "This button isn't one of mine, or is out of date. Send /settings to start again."
)


def button_choice_gone(label: str, command: str) -> str:
    return _("That {label} can't be chosen now. Send /{command} for the current choices.").format(
        label=label, command=command
    )


def queued(ahead: int) -> str:
    if ahead == 0:
        return _("Queued: you're next.")
    return ngettext("Queued: {n} ahead of you.", "Queued: {n} ahead of you.", ahead).format(n=ahead)


def _choices(allowed: tuple[str, ...]) -> str:
    return ", ".join(allowed)


def drawing(seconds: float) -> str:
    return _("Drawing… {seconds} s").format(seconds=f"{seconds:.0f}")


def setting_current(label: str, value: str, allowed: tuple[str, ...], example: str) -> str:
    return _(
        "Current {label}: {value}\nAllowed: {allowed}\nTap a button or type, e.g., {example}"
    ).format(label=label, value=value, allowed=_choices(allowed), example=example)


def settings_overview(model: str, ratio: str, size: str, output_format: str) -> str:
    return _(
        "This chat's settings:\n"
        "Model: {model}\nAspect ratio: {ratio}\nSize: {size}\nResults as: {output_format}\n\n"
        "Change them with /model, /ratio, /size and /format."
    ).format(model=model, ratio=ratio, size=size, output_format=output_format)


def setting_fell_back(label: str, old: str, new: str, model: str) -> str:
    return _("{model} can't do the {label} {old}, so this chat now uses {new}.").format(
        model=model, label=label, old=old, new=new
    )


def images_left_out(used: int, given: int) -> str:
    return ngettext(
        "This model takes at most {used} image, so I used the first {used} of your {given}.",
        "This model takes at most {used} images, so I used the first {used} of your {given}.",
        used,
    ).format(used=used, given=given)


def too_many_pixels(limit: int) -> str:
    megapixels = round(limit / 1e6)
    return ngettext(
        "That image has too many pixels for me: I take up to {megapixels} megapixel. "
        "Please send a smaller version.",
        "That image has too many pixels for me: I take up to {megapixels} megapixels. "
        "Please send a smaller version.",
        megapixels,
    ).format(megapixels=megapixels)


def result_caption(
    prompt: str, delivered: Delivered, cost_usd: float | None, *, turn: int = 1
) -> str:
    """The prompt, trimmed to fit Telegram's caption limit, then the ratio, tier and pixels the
    picture really has, the cost, what was asked where the picture differs, and which turn of a
    conversation it is."""
    shape = delivered.shape
    # A real multiplication sign: the caption is read by people, not parsed.
    pixels = f"{shape.width}×{shape.height}"  # noqa: RUF001
    details = f"{shape.aspect_ratio} · {shape.image_size} · {pixels}"
    if current().rtl:
        # Digits around a sign would swap places in a right-to-left caption (see bot/i18n.py).
        details = f"\u200e{details}"
    if cost_usd is not None:
        details += f" · ${cost_usd:.3f}"
    asked = [a for a in (delivered.asked_ratio, delivered.asked_size) if a]
    if asked:
        details += " " + _("(asked {asked})").format(asked=" · ".join(asked))
    if turn > 1:
        details += " · " + _("turn {n}").format(n=turn)
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
    return _("Done: the {label} is now {value}. It applies to every image in this chat.").format(
        label=label, value=value
    )


def setting_unknown(label: str, given: str, allowed: tuple[str, ...]) -> str:
    return _("“{given}” is not a valid {label}. Choose one of: {allowed}").format(
        given=_echo(given), label=label, allowed=_choices(allowed)
    )


# Of a user's own text quoted back: enough to recognise it, never enough to pass Telegram's limit.
ECHO_LIMIT = 40


def _echo(given: str) -> str:
    return given if len(given) <= ECHO_LIMIT else given[:ECHO_LIMIT].rstrip() + "…"


def setting_unsupported(label: str, value: str, model: str, allowed: tuple[str, ...]) -> str:
    return _("{model} can't make the {label} {value}. It can do: {allowed}").format(
        model=model, label=label, value=value, allowed=_choices(allowed)
    )


_TELL_OPERATOR = Text("Retrying won't help; please tell the bot's operator.")


def upstream_failure(error: e.UpstreamError) -> str:
    """What went wrong, and whether trying again can help."""
    if isinstance(error, e.NoImageReturned):
        return _refusal(error)
    if isinstance(error, e.ServiceUnavailable):
        return _(
            "The image service is down right now, so I didn't send this. "
            "Please try again in a few minutes."
        )
    if isinstance(error, e.HostedImageFailed):
        return _(
            "The image was made, but I couldn't fetch it from where the image service stored "
            "it. Please try again; if it keeps happening, tell the bot's operator."
        )
    if isinstance(error, e.ReplyTooLarge):
        return _("The image service sent more than I can handle. Please try a smaller size.")
    if error.retryable:
        # The retrying layer has already tried again: say so, then when the user should.
        return _transient(error) + " " + _when(error)
    if isinstance(error, e.AuthenticationFailed):
        problem = _("The bot's image-service key was refused.")
    elif isinstance(error, e.InsufficientCredits):
        problem = _("The bot's image-service account is out of credit.")
    elif isinstance(error, e.ModelNotFound | e.ChatCompletionsUnsupported):
        problem = _("The configured image model isn't available.")
    else:
        return _(
            "The image service refused this request. Try rephrasing it or using another photo."
        )
    return f"{problem} {_TELL_OPERATOR()}"


def _transient(error: e.UpstreamError) -> str:
    if isinstance(error, e.UpstreamTimeout):
        what = _("The image service took too long to answer")
    elif isinstance(error, e.TransportError):
        what = _("I couldn't reach the image service")
    elif isinstance(error, e.RateLimited):
        what = _("The image service is busy right now")
    else:
        what = _("The image service had a problem making this image")
    if error.attempts > 1:
        what += " " + ngettext(
            "(I tried {n} time).", "(I tried {n} times).", error.attempts
        ).format(n=error.attempts)
    else:
        what += "."
    return what


def _when(error: e.UpstreamError) -> str:
    if isinstance(error, e.RateLimited) and error.retry_after:
        seconds = round(error.retry_after)
        return ngettext(
            "Please try again in about {n} second.",
            "Please try again in about {n} seconds.",
            seconds,
        ).format(n=seconds)
    return _("Please try again in a minute.")


# What each way of ending without a picture means for the user, and what to try.
_NO_PICTURE: dict[NoPictureReason, Text] = {
    NoPictureReason.IMAGE_SAFETY: Text(
        "No picture: the image the model made was blocked by its safety filter. "
        "Try describing the scene differently."
    ),
    NoPictureReason.IMAGE_PROHIBITED_CONTENT: Text(
        "No picture: the image would show content the model never makes. Try a different subject."
    ),
    NoPictureReason.IMAGE_RECITATION: Text(
        "No picture: this looks like a protected work (a known character, logo or artwork). "
        "Try describing something of your own."
    ),
    NoPictureReason.IMAGE_OTHER: Text(
        "No picture: the model stopped making the image without saying why. "
        "Try again, or rephrase your request."
    ),
    NoPictureReason.NO_IMAGE: Text(
        "No picture: the model didn't make one this time. "
        "Try asking for the picture directly, e.g. start with “Draw”."
    ),
    NoPictureReason.SAFETY: Text(
        "No picture: your request was blocked by the model's safety rules. Try rephrasing it."
    ),
    NoPictureReason.PROHIBITED_CONTENT: Text(
        "No picture: your request asks for content the model never makes. Try a different subject."
    ),
    NoPictureReason.BLOCKLIST: Text(
        "No picture: your request contains a term the model blocks. Try other words."
    ),
    NoPictureReason.SPII: Text(
        "No picture: your request seems to contain sensitive personal information. "
        "Leave it out and try again."
    ),
    NoPictureReason.CONTENT_FILTER: Text(
        "No picture: a safety filter stopped this request or its image. Try rephrasing it."
    ),
    NoPictureReason.REFUSAL: Text(
        "No picture: the model declined this request. Try rephrasing it."
    ),
    NoPictureReason.TEXT_ONLY: Text(
        "No picture: the model answered in words instead. "
        "Try asking for the picture directly, e.g. start with “Draw”."
    ),
    NoPictureReason.EMPTY: Text(
        "No picture: the model sent nothing back. Try again, or rephrase your request."
    ),
}
_FREE = Text("This one is free: it doesn't count against your images or budget.")


def _refusal(error: e.NoImageReturned) -> str:
    text = f"{_NO_PICTURE[error.reason]()} {_FREE()}"
    if error.model_text:
        text += "\n\n" + _("The model said:") + f"\n{error.model_text}"
    return text[:TELEGRAM_TEXT_LIMIT]


# ---- languages -------------------------------------------------------------------------------
def language_current(name: str, automatic: bool) -> str:
    if automatic:
        intro = _("I speak {language} with you, as your Telegram app does.")
    else:
        intro = _("I speak {language} with you, as you chose.")
    return (
        intro.format(language=name)
        + "\n"
        + _(
            "Tap a language, or type it, e.g. /language es. "
            "/language auto follows your Telegram app again."
        )
    )


def language_changed(name: str, automatic: bool) -> str:
    if automatic:
        return _("Done: I follow your Telegram app's language again ({language}).").format(
            language=name
        )
    return _("Done: from now on I speak {language} with you.").format(language=name)


def language_unknown(given: str, codes: tuple[str, ...]) -> str:
    return _("I don't speak “{given}”. Choose one of: {codes}").format(
        given=_echo(given), codes=_choices(codes)
    )


LANGUAGE_AUTOMATIC = Text("Automatic (as in Telegram)")
LANGUAGE_BUTTON_UNKNOWN = Text("That isn't a language I speak. Send /language for the choices.")


# ---- access, limits and usage ----------------------------------------------------------------
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


def _until(moment: datetime, now: datetime) -> str:
    left = max(0, int((moment - now).total_seconds()))
    hours, minutes = divmod(left // 60, 60)
    # TRANSLATORS: a date pattern (https://babel.pocoo.org/en/latest/dates.html#pattern-syntax):
    # day, month name, time; words in it go between single quotes.
    when = format_datetime(moment, _("d MMMM HH:mm"), locale=current().locale)
    return _("{when} UTC (in {hours} h {minutes} min)").format(
        when=when, hours=hours, minutes=minutes
    )


def limit_reached(error: LimitReached, now: datetime, selling: bool = False) -> str:
    text = _limit_reached(error, now)
    if selling and isinstance(error, QuotaReached):
        text += " " + _("You can buy more images with Telegram Stars: /buy")
    return text


def _limit_reached(error: LimitReached, now: datetime) -> str:
    if isinstance(error, TooManyInFlight):
        return ngettext(
            "You already have a picture in progress. Send this again when it's done.",
            "You already have {n} pictures in progress. Send this again when they're done.",
            error.limit,
        ).format(n=error.limit)
    if isinstance(error, CoolingDown):
        seconds = max(1, round(error.wait_seconds))
        return _("Please wait {n} s before your next picture here.").format(n=seconds)
    if isinstance(error, DailyImagesReached) and error.left:
        return ngettext(
            "That's {asked} images, and you have {n} of today's {limit} left. "
            "The limit resets at {until}.",
            "That's {asked} images, and you have {n} of today's {limit} left. "
            "The limit resets at {until}.",
            error.left,
        ).format(
            asked=error.asked,
            n=error.left,
            limit=error.limit,
            until=_until(error.resets_at, now),
        )
    if isinstance(error, DailyImagesReached):
        return ngettext(
            "You've used all {n} of today's images. The limit resets at {until}.",
            "You've used all {n} of today's images. The limit resets at {until}.",
            error.limit,
        ).format(n=error.limit, until=_until(error.resets_at, now))
    if isinstance(error, GroupBudgetReached):
        return _(
            "This group has used its budget of ${budget} for this month (spent ${spent}), "
            "so I can't draw more here until {until}."
        ).format(
            budget=_usd(error.budget_usd),
            spent=_usd(error.spent_usd),
            until=_until(error.resets_at, now),
        )
    if isinstance(error, MonthlyBudgetReached):
        return _(
            "You've used this month's budget of ${budget} (spent ${spent}). It resets on {until}."
        ).format(
            budget=_usd(error.budget_usd),
            spent=_usd(error.spent_usd),
            until=_until(error.resets_at, now),
        )
    return _("You've reached a usage limit. Please try again later.")


def _usd(amount: float) -> str:
    # The text model costs fractions of a cent: shown as such, not as $0.00.
    return f"{amount:.4f}" if 0 < amount < 0.01 else f"{amount:.2f}"


def _images(count: int) -> str:
    return ngettext("{n} image", "{n} images", count).format(n=count)


def _spend(spend: Spend) -> str:
    text = f"{_images(spend.images)}, ${spend.cost_usd:.3f}"
    return text + " " + _("(partly estimated)") if spend.estimated else text


def usage(report: UsageReport) -> str:
    lines = [
        _("Today: {spend}").format(spend=_spend(report.today)),
        _("This month: {spend}").format(spend=_spend(report.month)),
    ]
    if report.exempt:
        lines.append(_("As an administrator you have no limits."))
    else:
        if report.daily_limit:
            left = max(0, report.daily_limit - report.today.images)
            lines.append(
                ngettext(
                    "Left today: {left} of {limit} image",
                    "Left today: {left} of {limit} images",
                    report.daily_limit,
                ).format(left=left, limit=report.daily_limit)
            )
        if report.monthly_budget_usd:
            left_usd = max(0.0, report.monthly_budget_usd - report.month.cost_usd)
            lines.append(
                _("Left this month: ${left} of ${budget}").format(
                    left=_usd(left_usd), budget=_usd(report.monthly_budget_usd)
                )
            )
        if not report.daily_limit and not report.monthly_budget_usd:
            lines.append(_("No limits are set."))
    if report.credits is not None:
        lines.append(
            _("Bought credits: {images} (used when the free ones run out; /buy for more)").format(
                images=_images(report.credits)
            )
        )
    return _("Your usage (days and months in UTC)") + "\n" + "\n".join(lines)


def stats(days: list[DayTotals], users: list[UserTotals], failures: list[tuple[str, int]]) -> str:
    none = _("none")
    lines = [_("Last 7 days (UTC)")]
    lines += [
        _("{day}: {ok} ok, {failed} failed, ${cost}").format(
            day=d.day, ok=d.ok, failed=d.failed, cost=_usd(d.cost_usd)
        )
        for d in days
    ] or [_("no requests")]
    lines.append("\n" + _("Top users"))
    lines += [f"{u.user_id}: {_images(u.images)}, ${u.cost_usd:.2f}" for u in users] or [none]
    lines.append("\n" + _("Failures by kind"))
    lines += [f"{kind}: {count}" for kind, count in failures] or [none]
    return "\n".join(lines)


# ---- the /stats chart --------------------------------------------------------------------------
# Drawn with Pillow's built-in font, which has Latin letters only: English for everyone.
CHART_IMAGES = "Images per day (blue: delivered, red: failed)"
CHART_SPEND = "Spend per day (USD)"
CHART_NO_FAILURES = "No failures."


def chart_title(days: int) -> str:
    return f"Usage over the last {days} days (UTC)"


def chart_failures(days: int) -> str:
    return f"Failures by kind, last {days} days"


def chart_caption(days: int) -> str:
    return ngettext(
        "Usage over the last {n} day (UTC)", "Usage over the last {n} days (UTC)", days
    ).format(n=days)


# ---- admin commands ----------------------------------------------------------------------------
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
    return _("“{given}” is not a valid {what}.").format(given=_echo(given), what=what()) + (
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
            subject=_subject(subject_id), budget=_usd(usd)
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


# ---- Telegram Stars ----------------------------------------------------------------------------
STAR_COMMANDS: tuple[tuple[str, Text], ...] = (
    ("buy", Text("Buy more images with Telegram Stars")),
    ("paysupport", Text("Help with a payment")),
)
NOT_SELLING = Text("This bot doesn't sell images.")
PACK_GONE = Text("That pack is no longer on sale. Send /buy to see the current ones.")
PAYMENT_REFUSED = Text(
    "That pack is no longer on sale at this price. Send /buy to see the current ones."
)
PAYSUPPORT = Text(
    "Help with a payment\n\n"
    "Stars buy image credits: one credit is one picture, used only when your free images (or "
    "this month's budget) run out. A picture that fails gives its credit back; one you cancel "
    "does too, unless it was already being drawn. /usage shows your balance.\n\n"
    "If something went wrong with a payment, write to the bot's operator and include the charge "
    "id from the payment's receipt (Telegram keeps it in the chat). Refunds are made in Stars, "
    "to the account that paid."
)
REFUND_USAGE = Text(
    "Usage: /refund <charge id> (from the payment's receipt, or the log), or "
    "/refund <user id> <charge id> for a payment the bot did not record."
)
REFUND_UNKNOWN = Text("I have no payment with that charge id.")
REFUND_ALREADY = Text("That payment was already refunded.")


def refund_failed(reason: str) -> str:
    return _("Telegram refused the refund: {reason}").format(reason=_echo(reason))


def buy_offer(packs: tuple[StarPack, ...], balance: int) -> str:
    lines = [
        ngettext(
            "You have {n} bought image. Packs for sale:",
            "You have {n} bought images. Packs for sale:",
            balance,
        ).format(n=balance),
        *(f"• {pack_label(p)}" for p in packs),
        "\n"
        + _("Credits are used when your free images run out; a failed picture gives its back."),
        _("Help with payments: /paysupport"),
    ]
    return "\n".join(lines)


def pack_label(pack: StarPack) -> str:
    return ngettext("{n} image for {stars} ⭐", "{n} images for {stars} ⭐", pack.images).format(
        n=pack.images, stars=pack.stars
    )


def invoice_title(pack: StarPack) -> str:
    return _images(pack.images)


def invoice_description(pack: StarPack) -> str:
    return ngettext(
        "{n} image credit, used when your free daily images run out. "
        "A picture that fails gives its credit back.",
        "{n} image credits, used when your free daily images run out. "
        "A picture that fails gives its credit back.",
        pack.images,
    ).format(n=pack.images)


def payment_received(credits: int, balance: int) -> str:
    return ngettext(
        "Thank you! {n} image added; you now have {balance}.",
        "Thank you! {n} images added; you now have {balance}.",
        credits,
    ).format(n=credits, balance=balance)


def payment_kept(charge_id: str) -> str:
    return _(
        "Your payment is safe, but I couldn't add your images just now. They will be added "
        "automatically, and I'll tell you when. If they aren't, send /paysupport and give this "
        "charge id: {charge}"
    ).format(charge=charge_id)


def payment_already_counted(balance: int) -> str:
    return ngettext(
        "This payment was already counted; you have {n} bought image.",
        "This payment was already counted; you have {n} bought images.",
        balance,
    ).format(n=balance)


def refunded(payment: Payment, balance: int) -> str:
    return _("Refunded {stars} ⭐ to user {user}; their bought images: {balance}.").format(
        stars=payment.stars, user=payment.user_id, balance=balance
    )


def refunded_unrecorded(charge_id: str, user_id: int, balance: int) -> str:
    return _(
        "Refunded payment {charge} to user {user}; it was never credited. "
        "Their bought images: {balance}."
    ).format(charge=_echo(charge_id), user=user_id, balance=balance)


# ---- the buttons under a result --------------------------------------------------------------
AGAIN_BUTTON = Text("🔁 Again")
FOUR_BUTTON = "×4"  # noqa: RUF001 (a real multiplication sign, read by people; no words)
RATIO_BUTTON = Text("Ratio…")
BACK_BUTTON = Text("« Back")
# Answers to a tap on them (Telegram shows at most 200 characters).
RESULT_BUTTON_TAKEN = Text("On it: a new picture is coming.")
RESULT_BUTTON_UNKNOWN = Text("I don't know this picture's request. Please send the prompt again.")
RESULT_MODEL_GONE = Text(
    "This picture's model isn't offered any more. Please send the prompt again."
)
RESULT_CANNOT_ENLARGE = Text("I can't make this picture larger. Please send the prompt again.")


NEW_BUTTON = Text("🆕 New")


# ---- conversations ---------------------------------------------------------------------------
NEW_THREAD = Text("Your next message starts a new conversation.")
MODE_CHAT = Text(
    "Conversation mode: each message continues the conversation, with its earlier turns, "
    "until /new."
)
MODE_SINGLE = Text(
    "Single mode: each message is a request of its own. "
    "Reply to one of my pictures to continue its conversation."
)
MODE_USAGE = Text("Send /mode chat for a conversation, or /mode single for separate requests.")


# ---- saved references ------------------------------------------------------------------------
REF_USAGE = Text(
    "Save a picture: reply to it with /ref add NAME (or send it with that caption), then write "
    "#NAME in a prompt to use it. #me is your profile photo.\n"
    "/refs - your saved pictures, with delete buttons\n"
    "/ref del NAME - delete one\n"
    "/ref group NAME - a picture for everyone in this group (its administrators)\n"
    "/ref avatar on - others may use your profile photo as #yourusername (off: nobody)"
)
REF_NEEDS_PHOTO = Text("Reply to a photo with /ref add NAME, or send the photo with that caption.")
REF_GROUP_ONLY = Text("Group pictures are saved in the group: send /ref group NAME there.")
REFS_NONE = Text("No saved pictures yet. Reply to a photo with /ref add NAME to save one.")
REF_GONE = Text("That saved picture is already gone.")
REF_NOT_YOURS = Text("Only its owner, or the group's administrators for a group's, can delete it.")
AVATAR_NEEDS_USERNAME = Text(
    "Others would write #yourusername to use your profile photo, and you have no Telegram "
    "username. Set one in Telegram's settings first."
)
AVATAR_PRIVATE = Text("Nobody else can use your profile photo now.")
NO_PROFILE_PHOTO = Text(
    "I can't see a profile photo of yours, so #me has nothing to attach and I sent nothing."
)


def ref_bad_name(given: str) -> str:
    return _(
        "“{name}” can't be a name: use up to 32 letters, digits or _, starting with a letter "
        "(and not “me”, which is your profile photo)."
    ).format(name=given)


def ref_saved(name: str) -> str:
    return _("Saved as #{name}. Write #{name} in a prompt to use it.").format(name=name)


def ref_deleted(name: str) -> str:
    return _("Deleted #{name}.").format(name=name)


def ref_not_found(name: str) -> str:
    return _("You have no picture saved as #{name}.").format(name=name)


def refs_full(most: int) -> str:
    return ngettext(
        "You already have {n} saved picture, the most I keep. Delete one with /refs first.",
        "You already have {n} saved pictures, the most I keep. Delete one with /refs first.",
        most,
    ).format(n=most)


def refs_list(names: list[str]) -> str:
    return _("Saved pictures: {names}\nTap one below to delete it.").format(names=" ".join(names))


def avatar_shared(username: str) -> str:
    return _("Others can now use your profile photo by writing #{username}.").format(
        username=username
    )


def unknown_refs(names: list[str], known: list[str]) -> str:
    """`#names` that attach nothing; nothing was sent."""
    if names == ["#me"]:
        return NO_PROFILE_PHOTO()
    if not known:
        return _(
            "I have no picture called {names}, so I sent nothing. Save one by replying to a photo "
            "with /ref add NAME; #me is your profile photo."
        ).format(names=", ".join(names))
    return _(
        "I have no picture called {names}, so I sent nothing. Yours here: {known}; #me is your "
        "profile photo."
    ).format(names=", ".join(names), known=" ".join(f"#{k}" for k in known))


def larger_button(size: str) -> str:
    return f"⬆ {size}"


# "More…" and the studio's buttons it opens.
MORE_BUTTON = Text("More…")
VARY_SUBTLE_BUTTON = Text("Vary (subtle)")
VARY_STRONG_BUTTON = Text("Vary (strong)")
ORIGINAL_BUTTON = Text("📎 Original")
REMIX_BUTTON = Text("Remix")
REMIX_ASK = Text(
    "Remix: reply to this message with a new instruction for the picture above. I'll apply it "
    "to that picture together with its original images."
)
# Shown in the input field of the reply (Telegram allows 1-64 characters).
REMIX_PLACEHOLDER = Text("New instruction for the picture")
ORIGINAL_GONE = Text("I don't have this picture's file any more. Please send the prompt again.")


def zoom_out_button(factor: str) -> str:
    return _("Zoom out {factor}×").format(factor=factor)  # noqa: RUF001 (a multiplication sign)


def pan_button(arrow: str) -> str:
    return _("Pan {arrow}").format(arrow=arrow)


def result_button_expired(days: int) -> str:
    return ngettext(
        "I keep requests for {n} day, and this one is older, so I no longer have it. "
        "Please send the prompt again.",
        "I keep requests for {n} days, and this one is older, so I no longer have it. "
        "Please send the prompt again.",
        days,
    ).format(n=days)


# ---- words: /describe and /enhance ------------------------------------------------------------
DRAW_BUTTON = Text("🎨 Draw this")
COPY_BUTTON = Text("📋 Copy")
DESCRIBE_USAGE = Text(
    "Send /describe as a reply to a photo, or send a photo with the caption /describe, and I'll "
    "write a prompt that would draw it."
)
ENHANCE_USAGE = Text(
    "Write a short prompt after the command, e.g. /enhance a fox in the snow, and I'll make it "
    "a detailed one."
)


# ---- /history --------------------------------------------------------------------------------
HISTORY_EMPTY = Text("I keep none of your pictures in this chat.")
HISTORY_NOT_YOURS = Text("These pages are someone else's: send /history for yours.")


def history_header(count: int, page: int, pages: int) -> str:
    return ngettext(
        "Your last picture in this chat (page {page} of {pages}):",
        "Your last {n} pictures in this chat (page {page} of {pages}):",
        count,
    ).format(n=count, page=page, pages=pages)


def history_entry(number: int, prompt: str, at: datetime) -> str:
    when = format_datetime(at, _("d MMMM HH:mm"), locale=current().locale)
    short = prompt if len(prompt) <= 80 else prompt[:79] + "…"
    return f"{number}. {short} · {when}"


def history_forgotten(count: int, days: int) -> str:
    return ngettext(
        "{n} older picture is forgotten: I keep pictures for {days} days.",
        "{n} older pictures are forgotten: I keep pictures for {days} days.",
        count,
    ).format(n=count, days=days)


# ---- inline mode -----------------------------------------------------------------------------
INLINE_DESCRIPTION = Text("With the settings of your private chat with me")
INLINE_OPEN_BOT = Text("Open the bot")
INLINE_PRIVATE = Text("This bot is private: tap to get your user id")


def inline_title(prompt: str) -> str:
    return _("Draw: {prompt}").format(prompt=prompt)


def inline_drawing(prompt: str) -> str:
    return _("Drawing: {prompt}…").format(prompt=prompt)


def inline_start_first(username: str) -> str:
    return _(
        "I can't send you the picture yet: open a chat with @{username}, press Start, "
        "then try again."
    ).format(username=username)


# ---- presets ---------------------------------------------------------------------------------
# TRANSLATORS: the built-in presets' names, each one word: shown on the /presets buttons, and a
# user may type them after /p (as well as the English name).
PRESET_STICKER = Text("Sticker")
PRESET_AVATAR = Text("Avatar")
PRESET_POSTER = Text("Poster")
PRESET_FIGURINE = Text("Figurine")
PRESET_RESTORE = Text("Restore")
PRESET_COLORIZE = Text("Colorize")
PRESET_PRODUCT = Text("Product")
PRESET_WATERCOLOR = Text("Watercolor")
PRESET_ANIME = Text("Anime")
PRESET_PIXEL = Text("Pixel")
PRESET_INFOGRAPHIC = Text("Infographic")
PRESET_LOGO = Text("Logo")
PRESETS_INTRO = Text(
    "Presets: tap one, then send your prompt or photo, and I wrap it in the preset. "
    "Or in one line: /p NAME text, e.g. /p watercolor a harbour at dawn.\n"
    "Your own: /preset add NAME template with {text}, /preset del NAME."
)
PRESET_USAGE = Text(
    "Usage: /preset add NAME template with {text} (e.g. /preset add noir {text}, "
    "as a 1940s film noir still), or /preset del NAME."
)
PRESETS_ADMINS_ONLY = Text("Only this group's administrators can change its presets.")


def preset_chosen(name: str) -> str:
    return _("“{name}” chosen: it applies to your next prompt or photo.").format(name=name)


def preset_needs_text(name: str) -> str:
    return _("“{name}” needs a few words or a photo, e.g. /p {name} a red fox.").format(name=name)


def unknown_preset(name: str, names: list[str]) -> str:
    listed = ", ".join(names)
    if not name:
        return _("Which preset? /p NAME text, with one of: {names}.").format(names=listed)
    return _("There is no preset “{name}”. The presets: {names}.").format(name=name, names=listed)


def preset_saved(name: str) -> str:
    return _("Preset “{name}” saved: /p {name} text, or pick it in /presets.").format(name=name)


def preset_deleted(name: str) -> str:
    return _("Preset “{name}” deleted.").format(name=name)


def preset_not_found(name: str) -> str:
    return _("There is no preset “{name}” to delete.").format(name=name)


def preset_bad_name(max_chars: int) -> str:
    return ngettext(
        "A preset's name is one word of letters, digits and underscores, at most {n} character.",
        "A preset's name is one word of letters, digits and underscores, at most {n} characters.",
        max_chars,
    ).format(n=max_chars)


def preset_bad_template(max_chars: int) -> str:
    return ngettext(
        "A preset's template must contain {{text}}, where your words go, and be at most {n} "
        "character long.",
        "A preset's template must contain {{text}}, where your words go, and be at most {n} "
        "characters long.",
        max_chars,
    ).format(n=max_chars)


def too_many_presets(limit: int) -> str:
    return ngettext(
        "There can be at most {n} preset here. Delete one first: /preset del NAME.",
        "There can be at most {n} presets here. Delete one first: /preset del NAME.",
        limit,
    ).format(n=limit)


# ---- stickers --------------------------------------------------------------------------------
STICKER_BUTTON = Text("🧩 Sticker")
STICKER_ADDED = Text("Added to your sticker set.")
STICKER_FAILED = Text("I couldn't make a sticker of this picture. Please try again later.")


def sticker_set_link(link: str) -> str:
    return _("Your sticker is in your set: {link}").format(link=link)


def sticker_start_first(username: str) -> str:
    return _(
        "To give you stickers I need a private chat with you: open @{username}, press Start, "
        "then tap again."
    ).format(username=username)


def sticker_set_title(username: str, number: int) -> str:
    title = _("Pictures from @{username}").format(username=username)
    return title if number == 1 else f"{title} {number}"
