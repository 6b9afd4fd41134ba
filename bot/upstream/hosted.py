"""Downloading an image that a reply links to instead of sending it: https to public addresses
only (or the API's own host), bounded in bytes and time, redirects checked hop by hop."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx
from aiohttp import DefaultResolver
from aiohttp.abc import AbstractResolver, ResolveResult

from bot import transport
from bot.upstream import errors as e
from bot.upstream.reading import mapped_errors, read_body

# Signed storage links redirect once or twice; more is a loop or a trick.
MAX_REDIRECTS = 3


class ForbiddenAddress(OSError):
    """A host name that resolves to an address the bot must not connect to."""


def is_public(address: str) -> bool:
    """Whether `address` is on the public internet: not loopback, private, link-local, shared,
    multicast or reserved (an IPv4-mapped IPv6 address is judged as the IPv4 address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicOnlyResolver(AbstractResolver):
    """Resolves as usual, then refuses a name with any non-public address. The check is on the
    resolved address at connection time, so a name that changes its answer after a first look
    (DNS rebinding) or a redirect to another name is caught too."""

    def __init__(self) -> None:
        # Made on first use: aiohttp's resolvers must be created inside the running loop.
        self._inner: AbstractResolver | None = None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not is_public(result["host"]):
                raise ForbiddenAddress(f"{host} resolves to the non-public {result['host']}")
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


class HostedImages:
    """Fetches image links. Links to the API's own origin are trusted as much as the API (a
    self-hosted gateway may serve its images over http on a private network); any other link
    must be https to a public address."""

    def __init__(
        self,
        api_url: str,
        api_http: httpx.AsyncClient,
        *,
        max_bytes: int,
        max_connections: int = 8,
    ) -> None:
        self._api_origin = _origin(api_url)
        self._api_http = api_http
        self._max_bytes = max_bytes
        self._public = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=15.0),
            transport=transport.pooled(max_connections, resolver=PublicOnlyResolver()),
        )

    async def aclose(self) -> None:
        await self._public.aclose()

    async def fetch(self, url: str, deadline: float) -> bytes:
        """The bytes behind `url`, within `deadline` seconds overall, or HostedImageFailed."""
        try:
            async with asyncio.timeout(deadline):
                return await self._follow(url)
        except TimeoutError as exc:
            raise e.HostedImageFailed(f"the image link took over {deadline:.0f} s") from exc
        except e.ReplyTooLarge as exc:
            raise e.HostedImageFailed(str(exc)) from exc
        except e.TransportError as exc:
            if forbidden := _forbidden(exc):
                raise e.HostedImageFailed(f"refused: {forbidden}") from exc
            raise e.HostedImageFailed(f"the image host failed: {exc}") from exc

    async def _follow(self, url: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                client = self._client_for(url)
                # No Authorization header: the image may be hosted by someone other than Eden.
                request = client.build_request("GET", url)
            except (httpx.InvalidURL, ValueError) as exc:
                # An address written oddly (`0177.0.0.1`), a port out of range: nothing to fetch.
                raise e.HostedImageFailed(
                    f"refused a link that is not valid: {_shown(url)}"
                ) from exc
            with mapped_errors("an image link"):
                response = await client.send(request, stream=True)
            if response.is_redirect:
                await response.aclose()
                url = urljoin(url, response.headers.get("Location", ""))
                continue
            if response.is_error:
                await response.aclose()
                raise e.HostedImageFailed(f"the image host answered HTTP {response.status_code}")
            return await read_body(response, "the image link", self._max_bytes)
        raise e.HostedImageFailed(f"more than {MAX_REDIRECTS} redirects")

    def _client_for(self, url: str) -> httpx.AsyncClient:
        if _origin(url) == self._api_origin:
            return self._api_http
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise e.HostedImageFailed(f"refused a link that is not https: {_shown(url)}")
        # aiohttp skips the resolver for an address written out, so that is checked here.
        try:
            literal = ipaddress.ip_address(parts.hostname.strip("[]"))
        except ValueError:
            return self._public
        if not is_public(str(literal)):
            raise e.HostedImageFailed(f"refused a link to the non-public {literal}")
        return self._public


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _shown(url: str) -> str:
    """A link as logged: its origin only (a signed link's query is a credential)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path[:60]}"


def _forbidden(exc: BaseException) -> ForbiddenAddress | None:
    """The ForbiddenAddress behind a connection error, if that is what it was."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ForbiddenAddress):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
