"""The SSRF guard of webhook deliveries: an httpx client whose every connection resolves the
host, refuses private, loopback, link-local, multicast and reserved addresses
(``domain.model.webhook.address_refusal``), and connects to the address it checked - so a
DNS answer that changes between the check and the connect (rebinding) cannot slip through.

It sits under httpx as httpcore's network backend: TLS still verifies the certificate for
the URL's host name (SNI and hostname check are the name, not the address), keep-alive pools
stay per host, and redirects are never followed (the handler treats a 3xx as a failure).
"""

from __future__ import annotations

import asyncio
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

from domain.model.webhook import address_refusal

Resolve = Callable[[str, int], Awaitable[list[str]]]
"""Host name and port → the addresses it resolves to (tests give a fixed table)."""


class AddressRefused(Exception):
    """The endpoint's host resolves to an address deliveries may not reach."""


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, connecting only to checked addresses."""

    def __init__(self, *, allow_loopback: bool, resolve: Resolve = system_resolve) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_loopback = allow_loopback
        self._resolve = resolve

    async def checked_address(self, host: str, port: int) -> str:
        """The address to connect to: every address the host resolves to must pass (one bad
        answer refuses the host, so a mixed answer cannot be raced)."""
        try:
            addresses = [host] if _is_address(host) else await self._resolve(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"{host} does not resolve: {error}") from error
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        for address in addresses:
            why = address_refusal(address, allow_loopback=self._allow_loopback)
            if why is not None:
                raise AddressRefused(f"{host} resolves to {address}, a {why} address")
        return addresses[0]

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self.checked_address(host, port)
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("webhook deliveries do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _is_address(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host.strip("[]"))
    except OSError:
        return False
    return True


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a ``GuardedBackend`` (no proxies from the environment)."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        limits: httpx.Limits,
        resolve: Resolve = system_resolve,
    ) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_loopback=allow_loopback, resolve=resolve),
        )


def guarded_client(
    *,
    allow_loopback: bool,
    timeout: float,
    max_connections: int = 100,
    resolve: Resolve = system_resolve,
) -> httpx.AsyncClient:
    """The client deliveries are sent with: guarded, keep-alive, ``timeout`` per attempt,
    never following redirects."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=100)
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_loopback=allow_loopback, limits=limits, resolve=resolve),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
        trust_env=False,
    )
