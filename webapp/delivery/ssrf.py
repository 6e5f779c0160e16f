"""Which SMTP hosts a supporter may name: public addresses on mail ports, or operator-allowed host:port pairs.

Every refusal reads the same (`REFUSED`): whether a name does not exist, resolves to a private address or
names a port that is not a mail port, the supporter sees one sentence. Telling them apart would let anyone
map the server's internal DNS through the form (an oracle); the log says which rule refused, for the operator.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
from dataclasses import dataclass

from webapp.delivery.deadline import Deadline, DeadlineExceeded

# Resolution goes through this name so tests can stand in for DNS; nothing else is replaced.
getaddrinfo = socket.getaddrinfo

log = logging.getLogger(__name__)

# The system resolver's getaddrinfo() takes no timeout and cannot be interrupted, so each lookup runs in a
# thread of its own while the caller waits only until its deadline. A resolver that hangs keeps at most this
# many of those threads (each ends when the resolver answers); past that, lookups wait for a free one, still
# only until their deadline, so a worker is never held past it and never piles up threads.
LOOKUP_THREADS = 32
_lookup_slots = threading.BoundedSemaphore(LOOKUP_THREADS)
# The bound on a lookup whose caller has no phase of its own.
LOOKUP_SECONDS = 10.0
LOOKING_UP = "looking up your mail server"

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*\.?$"
)
_NUMERIC_ONLY = re.compile(r"^(0x[0-9a-f]+|[0-9.]+)$")
# IPv6 global unicast (RFC 4291): everything else (site-local fec0::/10, unique-local fc00::/7, link-local,
# multicast, NAT64 64:ff9b::/96 that maps onto IPv4, the unspecified and loopback addresses) is refused.
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")

REFUSED = (
    "Outcry can't use {host} as your mail server. Check its name and port (mail servers use ports {ports}); "
    "your provider's help pages give both, for example smtp.gmail.com, port 587."
)


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
    """Why an address is not a public one (for the log), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return _refusal(mapped)
        if ip.teredo is not None:
            return "teredo"
        if ip not in _IPV6_GLOBAL_UNICAST:
            return "not-global-unicast"
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


def _refuse(host: str, allowed_ports: tuple[int, ...], rule: str) -> RefusedHost:
    log.info("smtp_host.refused rule=%s", rule)
    ports = ", ".join(str(p) for p in allowed_ports[:-1]) + f" or {allowed_ports[-1]}"
    shown = host if _HOSTNAME.match(host) or _literal_ip(host) is not None else "that"
    return RefusedHost(REFUSED.format(host=shown, ports=ports))


def _resolve(host: str, port: int, deadline: Deadline) -> list[tuple]:
    """getaddrinfo(host, port) within `deadline`, or DeadlineExceeded (the lookup's thread is left to finish)."""
    slots, lookup = _lookup_slots, getaddrinfo  # read once: the thread releases the slot it took
    if not slots.acquire(timeout=deadline.remaining()):
        raise DeadlineExceeded(deadline)
    answer: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            answer["infos"] = lookup(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            answer["error"] = exc
        finally:
            slots.release()
            done.set()

    try:
        threading.Thread(target=run, name="dns-lookup", daemon=True).start()
    except BaseException:
        slots.release()
        raise
    if not done.wait(deadline.remaining()):
        log.warning("smtp_host.lookup_too_long phase=%r seconds=%g", deadline.phase, deadline.seconds)
        raise DeadlineExceeded(deadline)
    if "error" in answer:
        raise answer["error"]
    return answer["infos"]


def check(
    host: str,
    port: int,
    allowed: frozenset[tuple[str, int]],
    allowed_ports: tuple[int, ...],
    *,
    deadline: Deadline | None = None,
) -> CheckedAddress:
    """Resolve `host` and return the address to connect to, or raise RefusedHost.

    Operator-allowed `host:port` pairs skip the address policy (local mail servers, tests).
    Everything else must use a mail port and resolve only to public addresses. The caller
    connects to the returned address, so a second DNS answer cannot move the connection.

    The lookup ends by `deadline` (the phase it is part of; LOOKUP_SECONDS when none is given) or raises
    DeadlineExceeded, however long the resolver takes.
    """
    host = normalize_host(host)
    if not host:
        raise RefusedHost("Please enter your mail server's host name.")
    exempt = (host, port) in allowed
    literal = _literal_ip(host)
    if literal is None and (not _HOSTNAME.match(host) or _NUMERIC_ONLY.match(host)):
        raise _refuse(host, allowed_ports, "name")
    if not exempt and port not in allowed_ports:
        raise _refuse(host, allowed_ports, "port")
    try:
        infos = _resolve(host, port, deadline or Deadline(LOOKUP_SECONDS, LOOKING_UP))
    except (socket.gaierror, UnicodeError):
        raise _refuse(host, allowed_ports, "not-found") from None
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        address = sockaddr[0].split("%", 1)[0]
        if family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _refuse(host, allowed_ports, "not-found")
    if not exempt:
        for address in addresses:
            reason = _refusal(ipaddress.ip_address(address))
            if reason:
                raise _refuse(host, allowed_ports, reason)
    return CheckedAddress(host=host, addresses=tuple(addresses), port=port)
