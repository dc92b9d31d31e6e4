"""Outgoing notifications cannot reach inside the network: loopback, link-local, private, ULA
and multicast destinations are refused when the connection is made, whatever name points there,
unless the operator allows them (PROMPTPULSE_ALLOWED_HOSTS)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator

import pytest

from promptpulse.notify import Allowed, PermanentFailure, outgoing_client
from promptpulse.notify.guard import refusal
from tests.conftest import InProcessApp, in_process_app
from tests.notify.conftest import Receiver

INSIDE = [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"),
    ("100.64.0.1", "reserved"),  # carrier-grade NAT: not global
]


@pytest.mark.parametrize(("address", "why"), INSIDE)
def test_addresses_inside_the_network_are_refused(address: str, why: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_reads_hosts_and_ranges() -> None:
    allowed = Allowed.parse(" hooks.internal , 10.0.0.0/8,127.0.0.1 ,")
    assert allowed.hosts == frozenset({"hooks.internal"})
    assert allowed.address(ipaddress.ip_address("10.9.9.9"))
    assert allowed.address(ipaddress.ip_address("127.0.0.1"))
    assert not allowed.address(ipaddress.ip_address("192.168.0.1"))
    with pytest.raises(ValueError, match="CIDR"):
        Allowed.parse("10.0.0.0/99")


def _post(url: str, allowed: str | None) -> int:
    async def go() -> int:
        async with outgoing_client(allowed, timeout=5) as http:
            return (await http.post(url, json={"x": 1})).status_code

    return asyncio.run(go())


def test_a_name_resolving_to_loopback_is_refused_at_connect_time(receiver: Receiver) -> None:
    url = receiver.url.replace("127.0.0.1", "localhost")
    with pytest.raises(PermanentFailure, match="loopback address"):
        _post(url, None)
    with pytest.raises(PermanentFailure, match="loopback"):
        _post(receiver.url, None)
    assert receiver.items == []


def test_an_allowed_range_reaches_the_checked_address_with_the_name_kept(
    receiver: Receiver,
) -> None:
    url = receiver.url.replace("127.0.0.1", "localhost") + "/hook"
    assert _post(url, "127.0.0.0/8, ::1") == 200
    (got,) = receiver.wait_for(1)
    assert got.path == "/hook" and got.headers["Host"].startswith("localhost:")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    yield from in_process_app(tmp_path_factory.mktemp("data"), allowed_hosts="")


@pytest.mark.parametrize("kind", ["webhook", "slack"])
def test_a_channel_test_to_loopback_fails_without_reaching_it(
    guarded: InProcessApp, receiver: Receiver, kind: str
) -> None:
    with guarded.client(guarded.key(None, "admin")) as c:
        r = c.post("/v1/alerts/channels/test", json={"type": kind, "url": receiver.url})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "failed" and body["attempts"] == 1
    assert "PROMPTPULSE_ALLOWED_HOSTS" in body["last_error"]
    assert receiver.items == []


def test_pagerduty_to_link_local_fails(guarded: InProcessApp) -> None:
    channel = {"type": "pagerduty", "routing_key": "k", "url": "http://169.254.169.254/latest"}
    with guarded.client(guarded.key(None, "admin")) as c:
        body = c.post("/v1/alerts/channels/test", json=channel).json()
    assert body["status"] == "failed" and "link-local" in body["last_error"]
