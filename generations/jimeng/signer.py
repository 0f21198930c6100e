"""Volcengine V4 request signing (HMAC-SHA256), as docs/upstream/volcengine-visual.md
describes it (the vendor's example: https://www.volcengine.com/docs/6444/1390583).

The signature covers the exact body bytes, so callers serialise once, sign those
bytes and send those same bytes; re-serialising after signing breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

ALGORITHM = "HMAC-SHA256"
REGION = "cn-north-1"
SERVICE = "cv"
SIGNED_HEADERS = ("content-type", "host", "x-content-sha256", "x-date")
CONTENT_TYPE = "application/json"


def uri_escape(value: str) -> str:
    """Percent-encode everything but unreserved characters; space becomes %20."""
    return quote(value, safe="-_.~")


def canonical_query(params: Iterable[tuple[str, str]] | Mapping[str, str]) -> str:
    pairs = params.items() if isinstance(params, Mapping) else params
    escaped = sorted((uri_escape(key), uri_escape(value)) for key, value in pairs)
    return "&".join(f"{key}={value}" for key, value in escaped)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def x_date(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


@dataclass(frozen=True)
class SigningInput:
    """Everything that goes into one signature."""

    method: str
    host: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: bytes
    x_date: str
    content_type: str = CONTENT_TYPE
    region: str = REGION
    service: str = SERVICE

    @property
    def short_date(self) -> str:
        return self.x_date[:8]

    @property
    def credential_scope(self) -> str:
        return f"{self.short_date}/{self.region}/{self.service}/request"

    @property
    def body_hash(self) -> str:
        return sha256_hex(self.body)

    def canonical_request(self) -> str:
        header_values = {
            "content-type": self.content_type,
            "host": self.host,
            "x-content-sha256": self.body_hash,
            "x-date": self.x_date,
        }
        canonical_headers = "".join(f"{name}:{header_values[name]}\n" for name in SIGNED_HEADERS)
        return "\n".join(
            [
                self.method.upper(),
                self.path or "/",
                canonical_query(self.query),
                canonical_headers,
                ";".join(SIGNED_HEADERS),
                self.body_hash,
            ]
        )

    def string_to_sign(self) -> str:
        return "\n".join(
            [
                ALGORITHM,
                self.x_date,
                self.credential_scope,
                sha256_hex(self.canonical_request().encode("utf-8")),
            ]
        )

    def signature(self, secret_key: str) -> str:
        key = _hmac(secret_key.encode("utf-8"), self.short_date)
        for part in (self.region, self.service, "request"):
            key = _hmac(key, part)
        return hmac.new(key, self.string_to_sign().encode("utf-8"), hashlib.sha256).hexdigest()


def sign(signing: SigningInput, *, access_key: str, secret_key: str) -> dict[str, str]:
    """Return the headers to send with the request described by `signing`."""
    authorization = (
        f"{ALGORITHM} Credential={access_key}/{signing.credential_scope}, "
        f"SignedHeaders={';'.join(SIGNED_HEADERS)}, Signature={signing.signature(secret_key)}"
    )
    return {
        "Host": signing.host,
        "Content-Type": signing.content_type,
        "X-Date": signing.x_date,
        "X-Content-Sha256": signing.body_hash,
        "Authorization": authorization,
    }


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key: str
    scope: str
    signed_headers: str
    signature: str


def parse_authorization(header: str) -> ParsedAuthorization | None:
    """Split an Authorization header into its parts; None when it is not V4-shaped."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            fields[name] = value
    credential = fields.get("Credential", "")
    access_key, _, scope = credential.partition("/")
    if not (access_key and scope and "SignedHeaders" in fields and "Signature" in fields):
        return None
    return ParsedAuthorization(access_key, scope, fields["SignedHeaders"], fields["Signature"])
