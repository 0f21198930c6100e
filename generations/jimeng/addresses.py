"""The address rules: which URLs the studio may call, and which IP addresses it may
connect to (the defence against server-side request forgery).

Two checks, both needed:

- Before a request, on the URL: API calls go only to the official hosts and hosts an
  operator listed; any fetch (a video download) must be http(s) without credentials in
  it. A *trusted origin* (the built-in emulator, or an address the operator typed into
  the command line) is allowed as well, but only below its path.
- At connect time, on every IP address the host name resolves to: private, loopback,
  link-local, multicast, reserved and unspecified addresses are refused, unless the
  connection is to a trusted origin. Checking when connecting, on the address actually
  used, is what defeats DNS rebinding (a name that resolves to a public address when
  checked and to 127.0.0.1 when used). See docs/security.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

# The vendors' own API hosts (docs/upstream/volcengine-visual.md, docs/upstream/ark.md).
OFFICIAL_API_HOSTS = frozenset(
    {
        "visual.volcengineapi.com",
        "ark.cn-beijing.volces.com",
        "ark.ap-southeast.bytepluses.com",
    }
)
HOST_PATTERN = re.compile(
    r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"
)


class AddressRefused(ValueError):
    """A URL or an address the rules do not allow; the message names no internal detail
    beyond what the caller already gave. `internal`: the host itself may be used, but it
    resolved to a loopback, private or otherwise internal address."""

    def __init__(self, message: str, *, internal: bool = False) -> None:
        super().__init__(message)
        self.internal = internal


def _port(scheme: str, port: int | None) -> int:
    return port or (443 if scheme == "https" else 80)


@dataclass(frozen=True)
class Place:
    """scheme://host:port/path of a URL, the host in lower case and the port filled in."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def of(cls, url: str) -> Place:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AddressRefused("only http:// and https:// addresses can be used")
        if parts.username or parts.password:
            raise AddressRefused("an address may not carry a user name or password")
        try:
            port = _port(parts.scheme, parts.port)
        except ValueError:
            raise AddressRefused("the address has an invalid port") from None
        return cls(parts.scheme, parts.hostname.lower(), port, parts.path or "/")

    @classmethod
    def origin(cls, url: str) -> Place:
        """A trusted origin: the place of `url`, whose path is a prefix."""
        place = cls.of(url)
        path = place.path if place.path.endswith("/") else place.path + "/"
        return cls(place.scheme, place.host, place.port, path)

    def same_host_and_port(self, host: str, port: int) -> bool:
        return (host, port) == (self.host, self.port)

    def below(self, origin: Place) -> bool:
        return (self.scheme, self.host, self.port) == (
            origin.scheme,
            origin.host,
            origin.port,
        ) and (self.path + "/").startswith(origin.path)


def has_dot_segment(path: str) -> bool:
    """`.` or `..` as a segment of `path`, percent-encoded or not (`%2e%2e`, `.%2E`), or
    behind a backslash: a client that resolves them would leave the path it was given,
    so a check of its prefix would pass `/sandbox/../admin/`."""
    for _round in range(3):  # encoded twice over is still caught; more is refused too
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    else:
        return True
    return any(segment in (".", "..") for segment in re.split(r"[/\\]", path))


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """`host` is one of `patterns`, where `*.example.com` covers any sub-domain."""
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def is_public(address: str) -> bool:
    """A globally routable unicast address (IPv4-mapped IPv6 judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
    )


@dataclass(frozen=True)
class AddressRules:
    """`api_hosts` may serve API calls; `trusted` origins may be reached at any address."""

    api_hosts: frozenset[str] = OFFICIAL_API_HOSTS
    trusted: tuple[Place, ...] = field(default=())

    def _trusted_origin(self, place: Place) -> Place | None:
        """The trusted origin `place` lies below; None if its host is not trusted at all.
        A trusted host reached outside the trusted paths is refused."""
        same_host = [o for o in self.trusted if o.same_host_and_port(place.host, place.port)]
        if same_host and has_dot_segment(place.path):
            raise AddressRefused("the address may not contain . or .. path segments")
        for origin in same_host:
            if place.below(origin):
                return origin
        if same_host:
            raise AddressRefused("only the emulator's own paths can be used on its host")
        return None

    def check_api_url(self, url: str) -> None:
        """Raise AddressRefused unless `url` may receive API calls (and our keys)."""
        place = Place.of(url)
        if has_dot_segment(place.path):
            raise AddressRefused("the address may not contain . or .. path segments")
        if self._trusted_origin(place) is None and not host_matches(place.host, self.api_hosts):
            raise AddressRefused(f"{place.host} is not an allowed API host")

    def check_fetch_url(self, url: str) -> None:
        """Raise AddressRefused unless `url` may be fetched (its address is checked later)."""
        self._trusted_origin(Place.of(url))

    def check_public_url(self, url: str) -> None:
        """check_fetch_url, and refuse at once a host that is plainly internal (a private
        or loopback IP, `localhost`) unless trusted. Names are still checked on connecting."""
        place = Place.of(url)
        if self._trusted_origin(place) is not None:
            return
        host = place.host.strip("[]")
        if host == "localhost" or host.endswith(".localhost"):
            raise AddressRefused("the address is not a public one")
        try:
            public = is_public(host)
        except ValueError:
            return  # a name, not an address
        if not public:
            raise AddressRefused("the address is not a public one")

    def allows_connection(self, host: str, port: int, address: str) -> bool:
        """May we open a connection to `address`, which `host` resolved to?"""
        if any(origin.same_host_and_port(host.lower(), port) for origin in self.trusted):
            return True
        return is_public(address)

    def is_official(self, url: str) -> bool:
        """Answers from here may be shown to people as they are: the vendor's own API,
        or our own emulator. Anything else might be an internal service's reply."""
        try:
            place = Place.of(url)
            return self._trusted_origin(place) is not None or place.host in OFFICIAL_API_HOSTS
        except AddressRefused:
            return False


STRICT = AddressRules()


def valid_host_pattern(value: str) -> bool:
    return bool(HOST_PATTERN.match(value))
