"""The V4 signer against the official SDK's vectors (docs/upstream/volcengine-visual.md),
and over the wire."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from generations.jimeng import transport
from generations.jimeng.signer import SigningInput, canonical_query, sign, uri_escape

AK = "AKLTexampleAccessKeyId"
SK = "ExampleSecretKey/with+chars=="
X_DATE = "20260314T150926Z"
HOST = "visual.volcengineapi.com"


def _signed(action: str, body: str) -> dict[str, str]:
    query = (("Action", action), ("Version", "2022-08-31"))
    signing = SigningInput("POST", HOST, "/", query, body.encode("utf-8"), X_DATE)
    return sign(signing, access_key=AK, secret_key=SK)


@pytest.mark.parametrize(
    ("action", "body", "body_hash", "signature"),
    [
        (
            "CVSync2AsyncSubmitTask",
            '{"req_key":"jimeng_i2v_first_v30","prompt":"一只猫 a cat","seed":-1,"frames":121}',
            "1c90f5da3615d29330cb41a39b78845e0aac9e968c97ff39185d444ee1e2ea20",
            "d3deed1058ab7a37a2ce738de8bef2e10c7519f7d431a5af7ebce8830d49d611",
        ),
        (
            "CVSync2AsyncGetResult",
            '{"req_key":"jimeng_t2v_v30_1080p","task_id":"7491596536074305586"}',
            "32b3d5d445b3b3a613f7d2a912cbac7e5e58cc6254d1960c475d94e83ddde225",
            "1cfcdd4c9d3e45d26d6cdd63301a7c3f4e7cba343cb3f8f2f9042181bf5e6779",
        ),
    ],
)
def test_official_vectors(action: str, body: str, body_hash: str, signature: str) -> None:
    headers = _signed(action, body)
    assert headers["X-Content-Sha256"] == body_hash
    assert headers["X-Date"] == X_DATE
    assert headers["Authorization"] == (
        f"HMAC-SHA256 Credential={AK}/20260314/cn-north-1/cv/request, "
        f"SignedHeaders=content-type;host;x-content-sha256;x-date, Signature={signature}"
    )


def test_a_reserialised_body_does_not_match_the_vector() -> None:
    body = '{"req_key":"jimeng_t2v_v30_1080p","task_id":"7491596536074305586"}'
    spaced = json.dumps(json.loads(body))  # same JSON, different bytes
    assert spaced != body
    assert (
        _signed("CVSync2AsyncGetResult", spaced)["Authorization"]
        != _signed("CVSync2AsyncGetResult", body)["Authorization"]
    )


def test_escaping_keeps_only_unreserved_characters() -> None:
    assert uri_escape("a b/c~d-e_f.g+h=") == "a%20b%2Fc~d-e_f.g%2Bh%3D"
    assert canonical_query({"b": "2", "a": "x y", "A": "z"}) == "A=z&a=x%20y&b=2"


def test_client_signs_exactly_the_bytes_it_sends(emulator) -> None:
    """Whatever the client sends must hash to the X-Content-Sha256 it signed."""
    client = emulator.volcengine()
    with mock.patch.object(transport, "send", autospec=True, side_effect=transport.send) as send:
        client.submit({"req_key": "jimeng_t2v_v30", "prompt": "一只猫 a cat", "frames": 121})
    request = send.call_args.args[0]
    import hashlib

    assert hashlib.sha256(request.body).hexdigest() == request.headers["X-Content-Sha256"]
    assert "一只猫".encode() in request.body  # UTF-8 as sent, not \\u escapes


def test_bad_signature_is_refused_with_100010(emulator) -> None:
    from generations.jimeng.errors import ErrorKind, JimengError

    with pytest.raises(JimengError) as caught:
        emulator.volcengine(secret_key="not-the-secret").submit(
            {"req_key": "jimeng_t2v_v30", "prompt": "a cat"}
        )
    error = caught.value
    assert (error.http_status, error.code, error.kind) == (401, 100010, ErrorKind.GATEWAY)
    assert "signature" in error.message.lower()
    assert error.request_id and not error.transient
    assert emulator.store.tasks() == []
