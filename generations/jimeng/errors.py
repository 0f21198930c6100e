"""One error type for everything the upstream APIs can answer, and the retry rules.

Whether an error is worth retrying is decided here and nowhere else (the retry
column of the error table in docs/upstream/volcengine-visual.md), so the command line
and the studio's pipeline agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    BUSINESS = "business"  # a code/message/data envelope with code != 10000
    GATEWAY = "gateway"  # a ResponseMetadata.Error envelope (signature, access, action)
    HTTP = "http"  # an HTTP error without a recognisable envelope
    NETWORK = "network"  # the connection failed or broke
    TIMEOUT = "timeout"  # no answer within the read timeout
    PROTOCOL = "protocol"  # an answer we cannot read (not JSON, missing fields)
    DOWNLOAD = "download"  # fetching the finished video failed
    ADDRESS = "address"  # the address rules refused the URL: nothing was sent


SUCCESS = 10000

# Business codes whose operation may succeed if tried again (the table's retry = yes).
RETRYABLE_CODES = frozenset({50429, 50430, 50500, 50501, 50511, 50516, 50517, 50519})

# Of those, the ones that say "busy or broken right now", not "this output failed review":
# asking again later is the right answer, and they never end a job on their own.
BUSY_CODES = frozenset({50429, 50430, 50500, 50501})

RISK_CODES = frozenset(
    {50411, 50412, 50413, 50511, 50512, 50516, 50517, 50518, 50519, 50520, 50521, 50522}
)

CODE_MESSAGES = {
    50200: "invalid arguments",
    50201: "missing arguments",
    50204: "arguments could not be parsed",
    50213: "request body too large",
    50400: "authorisation failed",
    50402: "no such API",
    50411: "input image did not pass content review",
    50412: "input text did not pass content review",
    50413: "input text contains sensitive or copyrighted words",
    50429: "request rate limit reached",
    50430: "concurrency limit reached",
    50500: "internal server error",
    50501: "internal RPC error",
    50511: "output image did not pass content review",
    50512: "output did not pass content review",
    50516: "output video did not pass content review",
    50517: "output audio did not pass content review",
    50518: "input image is copyrighted",
    50519: "output did not pass copyright review",
    50520: "content review service error",
    50521: "content review service error",
    50522: "content review service error",
}


@dataclass
class JimengError(Exception):
    """An upstream call that did not give a usable answer.

    `transient` says whether trying the same thing again later can succeed.
    `outcome_unknown` is set when a submit may have reached the service although no
    answer came back: it must not be resubmitted, or the team may pay twice.
    """

    message: str
    kind: ErrorKind
    http_status: int | None = None
    code: int | str | None = None
    request_id: str | None = None
    transient: bool = False
    outcome_unknown: bool = False
    reached_service: bool = True

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.request_id:
            parts.append(f"request_id {self.request_id}")
        return " · ".join(parts)

    @property
    def is_busy(self) -> bool:
        """Rate limits, overload and internal errors: back off and ask again."""
        if self.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT):
            return True
        if isinstance(self.code, int) and self.code in BUSY_CODES:
            return True
        return self.kind == ErrorKind.HTTP and self.transient

    @property
    def is_refusal(self) -> bool:
        """The upstream answered, and said no for good: keys, content review, or a
        request it will not take (an HTTP 4xx such as Ark's 400 InvalidParameter)."""
        if self.transient or self.outcome_unknown or not self.reached_service:
            return False
        if self.kind in (ErrorKind.BUSINESS, ErrorKind.GATEWAY) or self.is_risk or self.is_auth:
            return True
        return self.kind == ErrorKind.HTTP and 400 <= (self.http_status or 0) < 500

    @property
    def is_risk(self) -> bool:
        return isinstance(self.code, int) and self.code in RISK_CODES

    @property
    def is_auth(self) -> bool:
        """Keys or permissions: the upstream API itself refused who we are."""
        if self.kind == ErrorKind.DOWNLOAD:
            return False  # a refused video link is not about the API keys
        return (
            self.kind == ErrorKind.GATEWAY or self.code == 50400 or self.http_status in {401, 403}
        )


def business_error(
    *, code: int, message: str, http_status: int | None, request_id: str | None
) -> JimengError:
    known = CODE_MESSAGES.get(code)
    text = message or known or "upstream error"
    if known and known.lower() not in text.lower():
        text = f"{text} ({known})"
    return JimengError(
        message=text,
        kind=ErrorKind.BUSINESS,
        http_status=http_status,
        code=code,
        request_id=request_id,
        transient=code in RETRYABLE_CODES,
    )
