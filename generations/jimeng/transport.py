"""The one place where bytes leave the process for the upstream APIs.

`send` is the single transport boundary: tests of error mapping patch it (with
autospec) and nothing else. It turns the `requests` library's exceptions into
`TransportFailure`, which records whether the request provably never reached the
server (connection refused, DNS failure, connect timeout): only then may a submit be
sent again.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

import requests
import urllib3.exceptions

USER_AGENT = "jimeng-studio/0.1"
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

    def __post_init__(self) -> None:
        super().__init__(self.message)


@dataclass
class DownloadRefused(Exception):
    status: int
    body: bytes

    def __post_init__(self) -> None:
        super().__init__(f"HTTP {self.status}")


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        # Proxies from the environment must never reroute signed upstream calls.
        session.trust_env = False
        _local.session = session
    return session


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


def _short(error: Exception) -> str:
    reason = error.args[0] if error.args else error
    reason = getattr(reason, "reason", reason)
    return type(reason).__name__ if not isinstance(reason, str) else reason[:120]


def send(request: HttpRequest) -> HttpResponse:
    try:
        response = _session().request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.body,
            timeout=(request.connect_timeout, request.read_timeout),
            allow_redirects=False,
        )
        body = response.content
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
    chunk_size: int = 256 * 1024,
) -> int:
    """Stream `url` into `destination` without holding it in memory; return bytes written.

    Raises TransportFailure for network trouble and DownloadRefused for an HTTP error
    answer (an expired or forbidden link) or a body larger than `max_bytes`.
    """
    written = 0
    try:
        with _session().get(
            url, stream=True, timeout=(connect_timeout, read_timeout), allow_redirects=True
        ) as response:
            if response.status_code != 200:
                raise DownloadRefused(response.status_code, response.content[:2000])
            for chunk in response.iter_content(chunk_size):
                written += len(chunk)
                if written > max_bytes:
                    raise DownloadRefused(413, b"video is larger than the configured limit")
                destination.write(chunk)
    except requests.exceptions.RequestException as error:
        raise _failure(error) from None
    return written
