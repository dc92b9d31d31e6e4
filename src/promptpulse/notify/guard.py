"""Outgoing HTTP that cannot be aimed inside the network (SSRF).

A project admin chooses webhook, Slack and PagerDuty URLs; without a guard the server would post
to 127.0.0.1, 169.254.169.254 (cloud metadata) or a private address and show the reply in
`last_error`. Every request resolves its host, refuses loopback, link-local, private, ULA,
multicast and other non-global addresses, and connects to the very address it checked (the URL is
pinned to it; TLS still verifies the name), so a DNS answer that changes in between cannot slip
through. Redirects are never followed. `PROMPTPULSE_ALLOWED_HOSTS` lets named hosts or address
ranges through (an internal webhook receiver; tests' local receivers)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass

import httpx

from promptpulse.notify.send import PermanentFailure

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Allowed:
    """What the operator lets through: host names (exact, case-insensitive) and CIDR ranges."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> Allowed:
        """'hooks.internal, 10.0.0.0/8, 127.0.0.1' -> Allowed. A bad range is a ValueError."""
        hosts, networks = set(), []
        for item in (text or "").split(","):
            item = item.strip().lower()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                if "/" in item:
                    raise ValueError(f"PROMPTPULSE_ALLOWED_HOSTS: '{item}' is no CIDR") from None
                hosts.add(item.strip("[]"))
        return cls(frozenset(hosts), tuple(networks))

    def address(self, ip: Address) -> bool:
        return any(ip in net for net in self.networks if net.version == ip.version)


def refusal(ip: Address) -> str | None:
    """Why an address is no public destination, or None when it is one."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    for what, hit in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or not ip.is_global),
    ):
        if hit:
            return what
    return None


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks, then pins, the destination address of every request."""

    def __init__(self, allowed: Allowed, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.allowed = allowed
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host.lower() in self.allowed.hosts:
            return await self.inner.handle_async_request(request)
        ip = await self._checked_address(host, request.url.port or _default_port(request))
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        # The Host header keeps the name; the connection goes to the address just checked.
        request.url = request.url.copy_with(host=str(ip))
        return await self.inner.handle_async_request(request)

    async def _checked_address(self, host: str, port: int) -> Address:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise PermanentFailure(f"cannot resolve {host}: {exc.strerror}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        for ip in addresses:
            why = refusal(ip)
            if why is not None and not self.allowed.address(ip):
                raise PermanentFailure(
                    f"refused to connect to {host} ({ip}): a {why} address; "
                    "an operator can allow it with PROMPTPULSE_ALLOWED_HOSTS"
                )
        return addresses[0]

    async def aclose(self) -> None:
        await self.inner.aclose()


def _default_port(request: httpx.Request) -> int:
    return 443 if request.url.scheme == "https" else 80


def outgoing_client(allowed_hosts: str | None, timeout: float) -> httpx.AsyncClient:
    """The HTTP client every notification goes out with: guarded, never following redirects."""
    # httpx logs each request's full URL at INFO; a webhook URL is a secret.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        transport=GuardedTransport(Allowed.parse(allowed_hosts)),
    )
