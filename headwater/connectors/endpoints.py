"""Endpoint safety: which network addresses a connection may be aimed at.

Whoever creates a source chooses its endpoint, so the hub refuses link-local and
cloud metadata addresses always, and loopback and private ranges unless the
operator allows them (`headwater serve --allow-private-endpoints` or
`HEADWATER_ALLOW_PRIVATE_ENDPOINTS=1`). The check runs on the resolved addresses, on
every connection, including each redirect.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from headwater.errors import EndpointRefused, InvalidInput, UpstreamUnavailable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: How an operator allows private endpoints: named in every refusal, since it takes a restart.
HOW_TO_ALLOW = (
    "restart the hub with `headwater serve --allow-private-endpoints` "
    "(or HEADWATER_ALLOW_PRIVATE_ENDPOINTS=1) to allow loopback and private addresses"
)

#: Never reachable, whatever the operator allows: link-local and cloud metadata services.
ALWAYS_REFUSED = [
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("::/128"),
]


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def check_ip(ip: IPAddress, *, allow_private: bool) -> None:
    """Raise `EndpointRefused` if the hub must not connect to `ip`."""
    ip = _unmapped(ip)
    if any(ip in net for net in ALWAYS_REFUSED) or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        raise EndpointRefused(
            f"address {ip} is unspecified, link-local or a metadata service: the hub never connects to it"
        )
    if not allow_private and (ip.is_loopback or ip.is_private or ip.is_reserved or not ip.is_global):
        raise EndpointRefused(
            f"address {ip} is loopback or private, and this hub does not allow private endpoints: {HOW_TO_ALLOW}"
        )


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UpstreamUnavailable(f"host {host!r} could not be resolved") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_host(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Resolve `host` and check every address it resolves to; return them."""
    addresses = resolve(host, port)
    for ip in addresses:
        check_ip(ip, allow_private=allow_private)
    return addresses


def check_url(url: str, *, allow_private: bool, schemes: tuple[str, ...] = ("http", "https")) -> None:
    """Check an endpoint URL: its scheme, and every address its host resolves to."""
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise InvalidInput(f"endpoint scheme {parts.scheme!r} is not allowed: use {' or '.join(schemes)}")
    if not parts.hostname:
        raise InvalidInput("endpoint has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    check_host(parts.hostname, port, allow_private=allow_private)
