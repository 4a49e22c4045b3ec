"""Which addresses a provider request may go to (no HTTP library: links import this at start).

Public addresses only, unless ``SCHEDQ_CALENDAR_ALLOWED_NETWORKS`` names a network. IPv6 forms
that embed an IPv4 address (IPv4-mapped, 6to4, Teredo) are judged by the address they embed.
"""

from __future__ import annotations

import ipaddress
import socket

from shared.calendar_settings import CalendarSettings
from shared.errors import SchedqError, error
from worker.calendar import metrics as calendar_metrics

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Special-purpose ranges (IANA registries) that ``is_global`` does not cover in every Python
# version: protocol assignments, documentation, benchmarking, reserved, unique-local.
_SPECIAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "2001:db8::/32", "2001::/23",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "100::/64",
    )
)  # fmt: skip
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def refused(reason: str) -> SchedqError:
    # The reason is counted (a metric label from a fixed set), never shown to the submitter.
    calendar_metrics.TARGET_REFUSED.labels(reason).inc()
    return error("CALENDAR_TARGET_REFUSED")


def _unwrap(ip: Address) -> Address:
    if isinstance(ip, ipaddress.IPv6Address):
        for embedded in (ip.ipv4_mapped, ip.sixtofour):
            if embedded is not None:
                return embedded
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_public(ip: Address) -> bool:
    ip = _unwrap(ip)
    if any(ip in net for net in _SPECIAL):
        return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local
    )


def permitted(address: str, settings: CalendarSettings) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if any(_unwrap(ip) in net or ip in net for net in settings.allowed_networks):
        return True
    return is_public(ip)


def check_literal(host: str, settings: CalendarSettings) -> None:
    """Refuse a host that is an address literal (in any spelling) of a refused address.

    No name resolution: used when a link is registered, so the submitter learns at once; the
    full check runs again on every request.
    """
    host = host.strip("[]")
    try:
        address = str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        try:
            address = socket.inet_ntoa(socket.inet_aton(host))  # 2130706433, 0x7f.1, 0177.1
        except OSError:
            return  # a name: checked when it is resolved
    if not permitted(address, settings):
        raise refused("address")
