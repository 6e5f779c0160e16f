"""Which SMTP hosts a supporter may name: public addresses on mail ports, or operator-allowed host:port pairs."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

# Resolution goes through this name so tests can stand in for DNS; nothing else is replaced.
getaddrinfo = socket.getaddrinfo

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*\.?$"
)
_NUMERIC_ONLY = re.compile(r"^(0x[0-9a-f]+|[0-9.]+)$")


class RefusedHost(ValueError):
    """The host or port is not one Outcry will connect to; the message is safe to show."""


@dataclass(frozen=True)
class CheckedAddress:
    host: str  # as named: used for TLS certificate checks
    addresses: tuple[str, ...]  # resolved addresses that passed the policy: the only ones connected to
    port: int


def normalize_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".") if host.endswith(".") and len(host) > 1 else host


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return _refusal(mapped) or None
    if ip.is_loopback:
        return "it points at this server itself"
    if ip.is_unspecified:
        return "it is not a real address"
    if ip.is_link_local:
        return "it is a link-local address"
    if ip.is_multicast:
        return "it is a multicast address"
    if ip.is_private:
        return "it is a private network address"
    if ip.is_reserved or not ip.is_global:
        return "it is a reserved address"
    return None


def check(host: str, port: int, allowed: frozenset[tuple[str, int]], allowed_ports: tuple[int, ...]) -> CheckedAddress:
    """Resolve `host` and return the address to connect to, or raise RefusedHost.

    Operator-allowed `host:port` pairs skip the address policy (local mail servers, tests).
    Everything else must use a mail port and resolve only to public addresses. The caller
    connects to the returned address, so a second DNS answer cannot move the connection.
    """
    host = normalize_host(host)
    if not host:
        raise RefusedHost("Please enter your mail server's host name.")
    exempt = (host, port) in allowed
    literal = _literal_ip(host)
    if literal is None and (not _HOSTNAME.match(host) or _NUMERIC_ONLY.match(host)):
        raise RefusedHost("That is not a valid mail server host name.")
    if not exempt and port not in allowed_ports:
        ports = ", ".join(str(p) for p in allowed_ports)
        raise RefusedHost(f"Mail servers listen on ports {ports}; port {port} is not allowed.")
    try:
        infos = getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise RefusedHost(f"The mail server {host} could not be found. Check the spelling.") from None
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        address = sockaddr[0].split("%", 1)[0]
        if family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    if not addresses:
        raise RefusedHost(f"The mail server {host} could not be found. Check the spelling.")
    if not exempt:
        for address in addresses:
            reason = _refusal(ipaddress.ip_address(address))
            if reason:
                raise RefusedHost(f"Outcry won't connect to {host}: {reason}.")
    return CheckedAddress(host=host, addresses=tuple(addresses), port=port)
