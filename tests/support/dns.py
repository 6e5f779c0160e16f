"""Stubbed DNS for the SMTP host check (DNS is outside the product), and a listening socket that proves a refused
host never got a connection."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator

from webapp.delivery import ssrf


def fake_dns(table: dict[str, list[str]]):
    """A `getaddrinfo` answering from `table`; IP literals resolve as usual, any other name is not found."""

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            addresses = table[host]
        except KeyError:
            return socket.getaddrinfo(host, port, *args, **kwargs) if _is_literal(host) else _missing(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return getaddrinfo


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _missing(host):
    raise socket.gaierror(socket.EAI_NONAME, f"{host} not found")


def stub_dns(monkeypatch, table: dict[str, list[str]]) -> dict[str, list[str]]:
    """Make the SMTP host check resolve names from `table` for the rest of the test; returns the table."""
    monkeypatch.setattr(ssrf, "getaddrinfo", fake_dns(table))
    return table


@contextlib.contextmanager
def listening_socket(backlog: int, timeout: float) -> Iterator[tuple[socket.socket, int]]:
    """A socket listening on a free loopback port, closed afterwards: `(socket, port)`."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(backlog)
        sock.settimeout(timeout)
        yield sock, sock.getsockname()[1]
    finally:
        sock.close()
