"""Which callback URLs ramal will call: syntax rules and the SSRF guard.

A callback URL is chosen by a customer, so without a guard ramal would POST to whatever it points at:
the loopback admin port, the cloud metadata service, the office LAN. The guard refuses loopback,
private, link-local, multicast, reserved and metadata addresses twice: at registration (the literal or
what the name resolves to then) and on the address actually connected at each delivery (DNS
rebinding: a name may resolve elsewhere later). ``RAMAL_CALLBACK_ALLOW_NETWORKS`` lists networks that
are allowed anyway (``127.0.0.0/8`` for local development and the sandbox quickstart).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import SplitResult, unquote, urlsplit

MAX_URL_LENGTH = 2048
_SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Addresses that are public by the ipaddress module's rules but reach a provider's internal services.
_METADATA = (
    ipaddress.ip_network("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack (also link-local)
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS over IPv6
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, used by some providers' internals
)


class UnsafeTarget(ValueError):
    """The URL or the address behind it is not one ramal may call. The message is user-facing."""


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """A URL split for delivery: credentials apart (they become Basic auth, never logged)."""

    url: str  # without user:pass
    host: str
    username: str | None
    password: str | None

    @property
    def redacted(self) -> str:
        """The URL safe to echo or log: credentials replaced by ``***``."""
        if self.username is None:
            return self.url
        scheme, rest = self.url.split("://", 1)
        return f"{scheme}://***@{rest}"


@lru_cache(maxsize=1024)
def parse_callback_url(url: str) -> CallbackTarget:
    """Check the syntax rules (scheme, length, host, no fragment) and split off credentials.

    Cached: the dispatcher parses an endpoint's URL for every attempt, and the answer depends on the
    string alone (a refusal raises, and is not cached).
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"URL excede {MAX_URL_LENGTH} caracteres")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeTarget("URL contem espacos ou caracteres de controle")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget("URL invalida") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise UnsafeTarget("URL invalida: use http:// ou https://")
    if parts.fragment or url.endswith("#"):
        raise UnsafeTarget("URL invalida: fragmento (#) nao e permitido")
    host = parts.hostname
    if not host:
        raise UnsafeTarget("URL invalida: host nao informado")
    return CallbackTarget(
        _without_credentials(parts, host, port), host, _part(parts.username), _part(parts.password)
    )


def _part(value: str | None) -> str | None:
    return None if value is None else unquote(value)


def _without_credentials(parts: SplitResult, host: str, port: int | None) -> str:
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{netloc}{parts.path or '/'}{query}"


class AddressGuard:
    """Decides whether an IP address may be called, given the operator's allow-list."""

    def __init__(self, allowed: Iterable[IPNetwork] = ()) -> None:
        self.allowed = tuple(allowed)

    @classmethod
    def from_setting(cls, value: str) -> AddressGuard:
        """Parse ``RAMAL_CALLBACK_ALLOW_NETWORKS`` (comma-separated CIDRs or addresses)."""
        try:
            return cls(
                ipaddress.ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip()
            )
        except ValueError as error:
            raise ValueError(f"RAMAL_CALLBACK_ALLOW_NETWORKS: {error}") from None

    def check_address(self, address: IPAddress | str) -> None:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allowed):
            return
        if _is_forbidden(ip):
            raise UnsafeTarget(f"URL aponta para endereco nao permitido ({_kind(ip)})")

    def check_host(self, host: str) -> None:
        """At registration: the literal address, or every address the name resolves to now."""
        literal = literal_address(host)
        if literal is not None:
            self.check_address(literal)
            return
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            self.check_address("127.0.0.1")
            return
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            # A name that does not resolve yet is accepted: DNS may be set up after registration,
            # and every delivery checks the address it actually connects to anyway.
            return
        for info in infos:
            self.check_address(str(info[4][0]).split("%", 1)[0])


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally (``192.0.2.1``, ``::1``), or ``None`` for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_forbidden(ip: IPAddress) -> bool:
    return (
        any(ip in network for network in _METADATA if network.version == ip.version)
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _kind(ip: IPAddress) -> str:
    if any(ip in network for network in _METADATA if network.version == ip.version):
        return "metadados de nuvem"
    for name in ("loopback", "link_local", "multicast", "private"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    return "reservado"
