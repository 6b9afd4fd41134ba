"""Why no picture came: the image service's errors, and the model's reasons for not drawing."""

from __future__ import annotations

from bot.domain import NoPictureReason
from bot.i18n import Text, ngettext
from bot.i18n import gettext as _
from bot.texts._shared import TELEGRAM_TEXT_LIMIT
from bot.upstream import errors as e

__all__ = ["upstream_failure"]

# Failures with a sentence of their own, whether or not trying again can help.
_OWN_SENTENCE: dict[type[e.UpstreamError], Text] = {
    e.ServiceUnavailable: Text(
        "The image service is down right now, so I didn't send this. "
        "Please try again in a few minutes."
    ),
    e.HostedImageFailed: Text(
        "The image was made, but I couldn't fetch it from where the image service stored "
        "it. Please try again; if it keeps happening, tell the bot's operator."
    ),
    e.ReplyTooLarge: Text(
        "The image service sent more than I can handle. Please try a smaller size."
    ),
}
# What went wrong, for failures that trying again can mend (a timeout is a transport error, so
# it comes first).
_TRANSIENT: dict[type[e.UpstreamError], Text] = {
    e.UpstreamTimeout: Text("The image service took too long to answer"),
    e.TransportError: Text("I couldn't reach the image service"),
    e.RateLimited: Text("The image service is busy right now"),
}
_TRANSIENT_OTHER = Text("The image service had a problem making this image")
_MODEL_UNAVAILABLE = Text("The configured image model isn't available.")
# The bot's own set-up, which only its operator can mend.
_OPERATOR_PROBLEM: dict[type[e.UpstreamError], Text] = {
    e.AuthenticationFailed: Text("The bot's image-service key was refused."),
    e.InsufficientCredits: Text("The bot's image-service account is out of credit."),
    e.ModelNotFound: _MODEL_UNAVAILABLE,
    e.ChatCompletionsUnsupported: _MODEL_UNAVAILABLE,
}
_TELL_OPERATOR = Text("Retrying won't help; please tell the bot's operator.")
_REFUSED = Text("The image service refused this request. Try rephrasing it or using another photo.")


def upstream_failure(error: e.UpstreamError) -> str:
    """What went wrong, and whether trying again can help."""
    if isinstance(error, e.NoImageReturned):
        return _refusal(error)
    if (own := _said(error, _OWN_SENTENCE)) is not None:
        return own()
    if error.retryable:
        # The retrying layer has already tried again: say so, then when the user should.
        return _transient(error) + " " + _when(error)
    if (problem := _said(error, _OPERATOR_PROBLEM)) is not None:
        return f"{problem()} {_TELL_OPERATOR()}"
    return _REFUSED()


def _said(error: e.UpstreamError, table: dict[type[e.UpstreamError], Text]) -> Text | None:
    """The sentence of the first kind in `table` that `error` is (a subclass counts)."""
    return next((text for kind, text in table.items() if isinstance(error, kind)), None)


def _transient(error: e.UpstreamError) -> str:
    what = (_said(error, _TRANSIENT) or _TRANSIENT_OTHER)()
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
