"""Reading a streamed HTTP body: whole, within a byte cap, with httpx's errors as UpstreamErrors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

from bot.upstream import errors as e


async def read_body(response: httpx.Response, where: str, max_bytes: int) -> bytes:
    """The whole body, which the response object does not keep: httpx responses sit in
    reference cycles, and a body kept there lives until the cyclic garbage collector runs (a
    burst of 200 replies held ~450 MB that way). More than `max_bytes` is refused unread."""
    try:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise e.ReplyTooLarge(where, max_bytes)
        chunks, size = [], 0
        with mapped_errors(where):
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise e.ReplyTooLarge(where, max_bytes)
                chunks.append(chunk)
        return b"".join(chunks)
    finally:
        await response.aclose()


@contextlib.contextmanager
def mapped_errors(where: str) -> Iterator[None]:
    """httpx's exceptions as UpstreamErrors. A connection that was never made sent nothing, so
    it is a TransportError (safe to retry), not a timeout of a request the upstream may bill."""
    try:
        yield
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise e.TransportError(f"{type(exc).__name__} on {where}: nothing was sent") from exc
    except httpx.TimeoutException as exc:
        raise e.UpstreamTimeout(f"{type(exc).__name__} on {where}") from exc
    except httpx.TransportError as exc:
        raise e.TransportError(f"{type(exc).__name__} on {where}: {exc}") from exc
