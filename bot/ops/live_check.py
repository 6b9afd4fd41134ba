"""`python -m bot check --live`: one real, paid generation through each protocol, to learn in a
minute whether the ratio and size asked for reach Gemini on this account; for a model the
table says lacks 512, whether a 512 request is refused as the table says; and a second turn of
a conversation, to learn whether Eden passes the model's own picture back to it."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Protocol

from bot.app import eden_client
from bot.config import EdenSettings
from bot.domain import ImageRequest, Picture, Turn
from bot.fidelity import Delivered, compare
from bot.lineup.catalog import capabilities_for, estimated_price
from bot.upstream import UpstreamError
from bot.upstream import errors as e

PROMPT = "a lighthouse on a cliff at dusk, simple flat illustration"
FOLLOW_UP = "the same lighthouse, now at night"
PROTOCOLS = ("chat", "images")


class Report(Protocol):
    def ok(self, what: str, detail: str = "") -> None: ...
    def note(self, what: str, detail: str) -> None: ...
    def fail(self, what: str, problem: str, fix: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Trial:
    """One protocol's answer: the shape delivered, or why there was none."""

    protocol: str
    delivered: Delivered | None = None
    seconds: float = 0.0
    cost_usd: float | None = None
    error: UpstreamError | None = None
    picture: Picture | None = None


def smallest_request(model: str) -> ImageRequest:
    """16:9 (a ratio a dropped hint turns visibly square) at the model's cheapest tier."""
    caps = capabilities_for(model)
    ratio = "16:9" if "16:9" in caps.aspect_ratios else caps.aspect_ratios[0]
    return ImageRequest(PROMPT, model, ratio, caps.image_sizes[0])


async def live_check(eden: EdenSettings, report: Report) -> None:
    request = smallest_request(eden.model)
    price = estimated_price(request.model, request.image_size)
    paid = len(PROTOCOLS) + 1
    probe_512 = "512" not in capabilities_for(eden.model).image_sizes
    print(
        f"[live] {paid} paid generations of {request.model} at {request.aspect_ratio} "
        f"{request.image_size}, one per protocol and a second turn of a conversation: about "
        f"${price * paid:.3f} in all"
        + ("; and a 512 request per protocol, which should be refused" if probe_512 else "")
    )
    trials = [await _try(eden, protocol, request) for protocol in PROTOCOLS]
    for trial in trials:
        _report(trial, request, report)
    if (first := trials[0].picture) is not None:
        await _try_conversation(eden, request, first, report)
    honoured = [t.protocol for t in trials if t.delivered and t.delivered.as_asked]
    shape = f"{request.aspect_ratio} {request.image_size}"
    if honoured:
        report.ok("live", f"{shape} reaches the model via {' and '.join(honoured)}")
        if eden.api_mode != "auto" and eden.api_mode not in honoured:
            report.note("live", f"set EDENAI_API_MODE={honoured[0]}: {eden.api_mode} drops it")
    else:
        report.fail(
            "live",
            f"no protocol delivered {shape}",
            "see the lines above; results will not have the ratios and sizes users choose",
        )
    if probe_512:
        small = dataclasses.replace(request, image_size="512")
        for protocol in PROTOCOLS:
            _report_512(await _try(eden, protocol, small), report)


async def _try(eden: EdenSettings, protocol: str, request: ImageRequest) -> Trial:
    client = eden_client(eden, mode="chat" if protocol == "chat" else "images")
    started = time.monotonic()
    try:
        async with client.generate(request) as result:
            return Trial(
                protocol,
                compare(request, result.picture),
                time.monotonic() - started,
                result.cost_usd,
                picture=result.picture,
            )
    except UpstreamError as exc:
        return Trial(protocol, seconds=time.monotonic() - started, error=exc)
    finally:
        await client.aclose()


async def _try_conversation(
    eden: EdenSettings, request: ImageRequest, first: Picture, report: Report
) -> None:
    """A second turn on the chat protocol, with the first picture as the model's own turn."""
    follow_up = dataclasses.replace(
        request, prompt=FOLLOW_UP, history=(Turn(request.prompt, (), first),)
    )
    client = eden_client(eden, mode="chat")
    what = "live conversation"
    try:
        async with client.generate(follow_up):
            pass
    except UpstreamError as exc:
        report.fail(what, f"{exc.kind}: {exc}", "conversations will fail; see the lines above")
        return
    finally:
        await client.aclose()
    if client.sends_history(request.model):
        report.ok(what, "two turns reach the model as a message list, its own picture included")
    else:
        report.note(
            what,
            "Eden refused the model's own picture in a message list: conversations send the "
            "last picture and the earlier instructions in words",
        )


def _report(trial: Trial, request: ImageRequest, report: Report) -> None:
    what = f"live {trial.protocol}"
    if isinstance(trial.error, e.ChatCompletionsUnsupported):
        report.note(what, "Eden does not serve this model on /chat/completions")
        return
    if trial.error is not None or trial.delivered is None:
        kind = trial.error.kind if trial.error else "error"
        report.fail(what, f"{kind}: {trial.error}", "see the other checks: key, URL, model")
        return
    shape = trial.delivered.shape
    cost = f"${trial.cost_usd:.3f}" if trial.cost_usd is not None else "no cost reported"
    received = (
        f"asked {request.aspect_ratio} {request.image_size}, received {shape.width}x"
        f"{shape.height} ({shape.aspect_ratio}, {shape.image_size}) in {trial.seconds:.1f} s, "
        f"{cost}"
    )
    if trial.delivered.as_asked:
        report.ok(what, received)
    else:
        report.note(what, f"{received}: this protocol does not pass the ratio or size on")


def _report_512(trial: Trial, report: Report) -> None:
    """The table says the model has no 512 tier: is a 512 request refused?"""
    what = f"live {trial.protocol} 512"
    if isinstance(trial.error, e.ChatCompletionsUnsupported):
        report.note(what, "Eden does not serve this model on /chat/completions")
    elif isinstance(trial.error, e.BadRequest):
        report.ok(what, f"refused ({trial.error}), as the models file says")
    elif trial.error is not None:
        report.note(what, f"{trial.error.kind}: {trial.error}; could not tell")
    else:
        report.note(
            what,
            "accepted, though the models file says this model has no 512 tier: add 512 to its "
            "sizes and prices in a copy of bot/lineup/models.toml (MODELS_FILE) to offer it",
        )
