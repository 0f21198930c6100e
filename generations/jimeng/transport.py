"""The one place where bytes leave the process for the upstream APIs.

`send` is the single transport boundary: tests of error mapping patch it (with
autospec) and nothing else. It turns the `requests` library's exceptions into
`TransportFailure`, which records whether the request provably never reached the
server (connection refused, DNS failure, connect timeout): only then may a submit be
sent again.

Every connection obeys the address rules (`addresses.py`): the URL is checked before
the request, and each IP address the host resolves to is checked when connecting, so
a host name cannot be rebound to an internal address between the check and the use.
API calls follow no redirects; a download follows at most `MAX_REDIRECTS`, each hop
checked again.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urljoin

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as urllib3_connection

from generations.jimeng.addresses import STRICT, AddressRefused, AddressRules

USER_AGENT = "jimeng-studio/0.1"
MAX_REDIRECTS = 3
_local = threading.local()


REDACTED_HEADERS = frozenset({"authorization"})


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    rules: AddressRules = field(default=STRICT, repr=False)

    def __repr__(self) -> str:
        # Tracebacks and debug pages print this; the Authorization header names the key.
        shown = {
            k: "<redacted>" if k.lower() in REDACTED_HEADERS else v for k, v in self.headers.items()
        }
        size = len(self.body) if self.body is not None else 0
        return f"HttpRequest({self.method} {self.url}, headers={shown}, body={size} bytes)"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class TransportFailure(Exception):
    message: str
    reached_service: bool
    timed_out: bool = False
    # The address rules refused the URL or the address it resolved to: nothing was sent,
    # and trying again cannot help. `internal`: it was the address the host resolved to.
    refused: bool = False
    internal: bool = False

    def __post_init__(self) -> None:
        super().__init__(self.message)


@dataclass
class DownloadRefused(Exception):
    status: int
    body: bytes

    def __post_init__(self) -> None:
        super().__init__(f"HTTP {self.status}")


# --- connections that check the address they connect to -----------------------------


def _guarded_socket(connection: HTTPConnection, rules: AddressRules) -> socket.socket:
    """Resolve the host, refuse it if any address is not allowed, then connect to the
    addresses that were checked (never resolving the name a second time)."""
    host, port = connection.host, connection.port or 80
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise urllib3.exceptions.NameResolutionError(host, connection, error) from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses or not all(rules.allows_connection(host, port, a) for a in addresses):
        raise AddressRefused(
            f"{host} resolves to a loopback or private address, which the studio may not "
            "connect to",
            internal=True,
        )
    last: OSError | None = None
    for address in addresses:
        try:
            return urllib3_connection.create_connection(
                (address, port),
                connection.timeout,  # type: ignore[arg-type]
                source_address=connection.source_address,
                socket_options=connection.socket_options,
            )
        except TimeoutError as error:
            raise urllib3.exceptions.ConnectTimeoutError(
                connection, f"Connection to {host} timed out"
            ) from error
        except OSError as error:
            last = error
    raise urllib3.exceptions.NewConnectionError(
        connection, f"Failed to establish a new connection: {last}"
    )


class _GuardedAdapter(HTTPAdapter):
    """An adapter whose connections are made by `_guarded_socket` under `rules`."""

    def __init__(self, rules: AddressRules) -> None:
        self.rules = rules
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        rules = self.rules

        class Plain(HTTPConnection):
            def _new_conn(self) -> socket.socket:
                return _guarded_socket(self, rules)

        class Secure(HTTPSConnection):
            def _new_conn(self) -> socket.socket:
                return _guarded_socket(self, rules)

        class PlainPool(HTTPConnectionPool):
            ConnectionCls = Plain

        class SecurePool(HTTPSConnectionPool):
            ConnectionCls = Secure

        self.poolmanager.pool_classes_by_scheme = {"http": PlainPool, "https": SecurePool}


def _session(rules: AddressRules) -> requests.Session:
    sessions: dict[AddressRules, requests.Session] = getattr(_local, "sessions", None) or {}
    _local.sessions = sessions
    session = sessions.get(rules)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        # Proxies from the environment must never reroute signed upstream calls.
        session.trust_env = False
        adapter = _GuardedAdapter(rules)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        sessions[rules] = session
    return session


# --- errors ----------------------------------------------------------------------------


def _never_connected(error: requests.exceptions.ConnectionError) -> bool:
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)
    # NewConnectionError covers refused connections and failed DNS look-ups.
    return isinstance(
        reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
    )


def _failure(error: requests.exceptions.RequestException) -> TransportFailure:
    if isinstance(error, requests.exceptions.ConnectionError) and _never_connected(error):
        return TransportFailure(f"could not connect: {_short(error)}", reached_service=False)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return TransportFailure("no answer within the read timeout", True, timed_out=True)
    return TransportFailure(f"connection broken: {_short(error)}", reached_service=True)


def _refused(refusal: AddressRefused) -> TransportFailure:
    return TransportFailure(
        str(refusal), reached_service=False, refused=True, internal=refusal.internal
    )


def _short(error: Exception) -> str:
    reason = error.args[0] if error.args else error
    reason = getattr(reason, "reason", reason)
    return type(reason).__name__ if not isinstance(reason, str) else reason[:120]


# --- the two ways out ------------------------------------------------------------------


def send(request: HttpRequest, *, any_host: bool = False) -> HttpResponse:
    """One API call to an allowed API host; redirects are not followed. With `any_host`
    (a webhook), any host will do, still only on an allowed address."""
    try:
        if any_host:
            request.rules.check_fetch_url(request.url)
        else:
            request.rules.check_api_url(request.url)
        response = _session(request.rules).request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.body,
            timeout=(request.connect_timeout, request.read_timeout),
            allow_redirects=False,
        )
        body = response.content
    except AddressRefused as refusal:
        raise _refused(refusal) from None
    except requests.exceptions.RequestException as error:
        raise _failure(error) from None
    return HttpResponse(status=response.status_code, body=body, headers=dict(response.headers))


def download(
    url: str,
    destination: BinaryIO,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_bytes: int,
    rules: AddressRules = STRICT,
    chunk_size: int = 256 * 1024,
) -> int:
    """Stream `url` into `destination` without holding it in memory; return bytes written.

    Raises TransportFailure for network trouble or a refused address, and
    DownloadRefused for an HTTP error answer (an expired or forbidden link), too many
    redirects, or a body larger than `max_bytes`.
    """
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            rules.check_fetch_url(url)
            with _session(rules).get(
                url, stream=True, timeout=(connect_timeout, read_timeout), allow_redirects=False
            ) as response:
                if response.is_redirect and response.headers.get("Location"):
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status_code != 200:
                    raise DownloadRefused(response.status_code, response.raw.read(2000))
                return _stream(response, destination, max_bytes, chunk_size)
    except AddressRefused as refusal:
        raise _refused(refusal) from None
    except requests.exceptions.RequestException as error:
        raise _failure(error) from None
    raise DownloadRefused(310, b"too many redirects")


def _stream(
    response: requests.Response, destination: BinaryIO, max_bytes: int, chunk_size: int
) -> int:
    written = 0
    for chunk in response.iter_content(chunk_size):
        written += len(chunk)
        if written > max_bytes:
            raise DownloadRefused(413, b"video is larger than the configured limit")
        destination.write(chunk)
    return written
