"""Why an image request failed upstream: one exception class per thing a user must be told.

UpstreamError
├── TransportError ............ the connection failed             (retry)
│   └── UpstreamTimeout ....... no answer within the time limit   (retry if asked: see below)
├── StatusError ............... the upstream answered with an error status
│   ├── BadRequest ............ 400, 413, 422, 451: the request itself was refused
│   │   └── ChatCompletionsUnsupported  the model lives on /images only
│   ├── AuthenticationFailed .. 401, 403: the API key is wrong
│   ├── InsufficientCredits ... 402: the account is out of credit
│   ├── ModelNotFound ......... 404: the model is unknown to the upstream
│   ├── RateLimited ........... 429                               (retry)
│   └── ProviderError ......... 5xx                               (retry)
├── MalformedResponse ......... a 2xx answer we cannot read       (retry)
├── ReplyTooLarge ............. an answer past the byte cap: refused unread
├── HostedImageFailed ......... the image link could not be (or must not be) downloaded
├── NoImageReturned ........... the model answered without an image (a refusal), with its
│                               reason (NoPictureReason); free for the user
└── ServiceUnavailable ........ the circuit breaker is open: failing fast, no call made

Timeouts are retried only with UPSTREAM_RETRY_TIMEOUTS=true: the upstream may have finished and
billed a generation that we stopped waiting for.
"""

from __future__ import annotations

from bot.domain import NoPictureReason, Outcome


class UpstreamError(Exception):
    """Base class: `kind` names the failure for logs, `retryable` says whether to try again."""

    kind = Outcome.UPSTREAM_ERROR
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # How many calls ended in this error (set by the retrying layer).
        self.attempts = 1

    def log_summary(self) -> str:
        """What the log says of it without LOG_PROMPTS (bot/ops/logs.py): its kind, never the
        upstream's words (a refusal, a 400's detail), which may quote the prompt."""
        return str(self.kind)


class TransportError(UpstreamError):
    kind = Outcome.CONNECTION_ERROR
    retryable = True


class UpstreamTimeout(TransportError):
    kind = Outcome.TIMEOUT


class StatusError(UpstreamError):
    kind = Outcome.HTTP_ERROR

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}"

    def log_summary(self) -> str:
        return f"{self.kind}, HTTP {self.status}"


class BadRequest(StatusError):
    kind = Outcome.BAD_REQUEST


class ChatCompletionsUnsupported(BadRequest):
    kind = Outcome.CHAT_UNSUPPORTED


class AuthenticationFailed(StatusError):
    kind = Outcome.AUTH_FAILED


class InsufficientCredits(StatusError):
    kind = Outcome.NO_CREDITS


class ModelNotFound(StatusError):
    kind = Outcome.MODEL_NOT_FOUND


class RateLimited(StatusError):
    kind = Outcome.RATE_LIMITED
    retryable = True

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ProviderError(StatusError):
    kind = Outcome.PROVIDER_ERROR
    retryable = True


class MalformedResponse(UpstreamError):
    kind = Outcome.MALFORMED_RESPONSE
    retryable = True


class ReplyTooLarge(UpstreamError):
    kind = Outcome.REPLY_TOO_LARGE

    def __init__(self, where: str, max_bytes: int) -> None:
        super().__init__(f"{where} sent more than {max_bytes // (1024 * 1024)} MB")


class HostedImageFailed(UpstreamError):
    """The upstream linked to its image instead of sending it, and fetching the link failed or
    was refused (not https, not a public address, an error from the host, too big, too slow).
    The service itself answered, so this neither trips the circuit breaker nor is retried (a
    retry would pay for a new picture)."""

    kind = Outcome.HOSTED_IMAGE_FAILED


class NoImageReturned(UpstreamError):
    """The model answered, but without an image: a safety block, a refusal, words only. The
    user pays nothing; what Eden charged (`cost_usd`) is the operator's."""

    kind = Outcome.REFUSED

    def __init__(
        self,
        model_text: str | None,
        finish_reason: str | None,
        *,
        refusal: str | None = None,
        cost_usd: float | None = None,
    ) -> None:
        self.reason = NoPictureReason.of(finish_reason, refusal, model_text)
        super().__init__(model_text or f"no image ({self.reason}, finish_reason={finish_reason})")
        self.model_text = model_text
        self.finish_reason = finish_reason
        self.cost_usd = cost_usd


class ServiceUnavailable(UpstreamError):
    """Recent requests kept failing, so this one was not sent at all."""

    kind = Outcome.CIRCUIT_OPEN

    def __init__(self, retry_in_seconds: float) -> None:
        super().__init__(f"circuit open for another {retry_in_seconds:.0f} s")
        self.retry_in_seconds = retry_in_seconds
