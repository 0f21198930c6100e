"""Upstream keys: encrypted at rest, masked everywhere, rotatable, testable."""

from __future__ import annotations

import io
import logging
import socket
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from generations import crypto
from generations.jimeng import transport
from generations.models import Credential, CredentialKind
from tests.cast import add_credential
from tests.conftest import SANDBOX_AK, SANDBOX_GATEWAY_KEY, SANDBOX_SK, TEST_CREDENTIALS_KEYS

AK = "AKLTtestAccessKeyIdForTheDump0001"
SK = "WTJGNE1qUTFOekl6TkRVMk56ZzVNREV5TXpRMU5qYzQ="


def _create(client: Client, slug: str = "team-a", **fields: str):
    data = {
        "kind": "volcengine",
        "label": "Prod",
        "endpoint": "",
        "access_key": AK,
        "secret": SK,
        "max_qps": "",
    }
    data.update(fields)
    return client.post(reverse("credential-create", args=[slug]), data)


def _all_rows_as_text() -> str:
    """Every row of every table, as the database itself stores it."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


@pytest.mark.django_db
def test_saved_secrets_are_encrypted_in_the_database(cast) -> None:
    response = _create(cast.client("owner"))
    assert response.status_code == 302
    credential = Credential.objects.get(label="Prod")
    assert credential.access_key == AK and crypto.decrypt(credential.secret_encrypted) == SK
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    raw = _all_rows_as_text()
    for text in (dump.getvalue(), raw):
        assert SK not in text and AK not in text
        assert SK[:12] not in text  # not even a piece of it
    assert credential.endpoint == "https://visual.volcengineapi.com"


@pytest.mark.django_db
def test_secret_is_only_ever_shown_masked(cast) -> None:
    client = cast.client("owner")
    _create(client)
    credential = Credential.objects.get(label="Prod")
    pages = [
        client.get(reverse("credential-list", args=["team-a"])),
        client.get(reverse("credential-edit", args=["team-a", credential.pk])),
    ]
    for page in pages:
        html = page.content.decode()
        assert SK not in html and AK not in html
        assert f"••••••••{SK[-4:]}" in html and f"••••••••{AK[-4:]}" in html


@pytest.mark.django_db
def test_editing_keeps_secrets_unless_replaced(cast) -> None:
    client = cast.client("owner")
    _create(client)
    credential = Credential.objects.get(label="Prod")
    url = reverse("credential-edit", args=["team-a", credential.pk])
    client.post(
        url,
        {
            "label": "Renamed",
            "endpoint": "https://visual.volcengineapi.com",
            "access_key": "",
            "secret": "",
        },
    )
    credential.refresh_from_db()
    assert credential.label == "Renamed" and credential.access_key == AK
    client.post(
        url,
        {
            "label": "Renamed",
            "endpoint": "https://visual.volcengineapi.com",
            "access_key": "AKLTnew",
            "secret": "new-secret-value",
        },
    )
    credential.refresh_from_db()
    assert (
        credential.access_key == "AKLTnew"
        and crypto.decrypt(credential.secret_encrypted) == "new-secret-value"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_only_admins_handle_keys(cast, role: str, status: int) -> None:
    client = cast.client(role)
    assert client.get(reverse("credential-list", args=["team-a"])).status_code == status
    assert _create(client).status_code == status
    assert not Credential.objects.exists()


@pytest.mark.django_db
def test_bad_credential_input_gets_field_errors(cast) -> None:
    client = cast.client("admin")
    response = _create(client, access_key="", endpoint="ftp://x")
    errors = response.context["form"].errors
    assert set(errors) == {"access_key", "endpoint"}
    response = _create(client, kind="gateway", endpoint="", access_key="")
    assert "endpoint" in response.context["form"].errors
    assert not Credential.objects.exists()


@pytest.mark.django_db
def test_first_key_becomes_the_default_and_default_moves(cast) -> None:
    client = cast.client("owner")
    _create(client, label="One")
    _create(client, label="Two")
    one, two = Credential.objects.get(label="One"), Credential.objects.get(label="Two")
    assert one.is_default and not two.is_default
    client.post(reverse("credential-default", args=["team-a", two.pk]))
    assert list(Credential.objects.filter(is_default=True)) == [two]


@pytest.mark.django_db
def test_rotating_the_key_reencrypts_and_still_decrypts(cast, settings) -> None:
    settings.CREDENTIALS_KEYS = [TEST_CREDENTIALS_KEYS[1]]  # the "old" key alone
    credential = add_credential(cast.team, access_key=AK, secret=SK)
    old_token = credential.secret_encrypted
    new_key = "1PMJq6bH7a5Q5bQh3o7hS3F2l9v6k4pT0xw8c2d1e0A="
    settings.CREDENTIALS_KEYS = [new_key, TEST_CREDENTIALS_KEYS[1]]
    out = io.StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "Re-encrypted 1 credential" in out.getvalue()
    credential.refresh_from_db()
    assert credential.secret_encrypted != old_token
    settings.CREDENTIALS_KEYS = [new_key]  # the old key is gone now
    assert crypto.decrypt(credential.secret_encrypted) == SK and credential.access_key == AK
    settings.CREDENTIALS_KEYS = [TEST_CREDENTIALS_KEYS[1]]  # only the old key: cannot open
    with pytest.raises(crypto.UndecryptableSecret):
        crypto.decrypt(credential.secret_encrypted)


# --- test connection, against the emulator over real HTTP ------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("access_key", "secret", "ok", "words"),
    [
        (SANDBOX_AK, SANDBOX_SK, True, "Keys valid"),
        (SANDBOX_AK, "wrong-secret", False, "Bad signature"),
        ("AKLTunknown", SANDBOX_SK, False, "not recognised"),
    ],
)
def test_connection_check_reports_in_plain_words(
    cast, emulator, access_key, secret, ok, words
) -> None:
    credential = add_credential(
        cast.team, emulator.volcengine_url, access_key=access_key, secret=secret
    )
    response = cast.client("admin").post(
        reverse("credential-test", args=["team-a", credential.pk]), follow=True
    )
    page = response.content.decode()
    assert words in page
    credential.refresh_from_db()
    assert credential.last_test_ok is ok
    calls = emulator.store.calls("query")
    assert len(calls) == (1 if ok else 0)  # refused at the gateway before being counted


def test_connection_check_reports_network_trouble(cast, db, settings) -> None:
    closed = f"http://127.0.0.1:{_closed_port()}/sandbox/"
    settings.SANDBOX_URL = closed  # allowed by the address rules, but nobody listens
    credential = add_credential(cast.team, closed + "volcengine/")
    response = cast.client("owner").post(
        reverse("credential-test", args=["team-a", credential.pk]), follow=True
    )
    assert "Could not reach" in response.content.decode()


def test_connection_check_for_gateway_keys(cast, emulator) -> None:
    good = add_credential(
        cast.team,
        emulator.gateway_url,
        access_key="",
        secret=SANDBOX_GATEWAY_KEY,
        kind=CredentialKind.GATEWAY,
        label="gw",
        default=False,
    )
    bad = add_credential(
        cast.team,
        emulator.gateway_url,
        access_key="",
        secret="sk-wrong",
        kind=CredentialKind.GATEWAY,
        label="gw2",
        default=False,
    )
    client = cast.client("owner")
    client.post(reverse("credential-test", args=["team-a", good.pk]))
    client.post(reverse("credential-test", args=["team-a", bad.pk]))
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.last_test_ok is True and bad.last_test_ok is False
    assert "not recognised" in bad.last_test_message


def test_connection_check_in_chinese(cast, emulator) -> None:
    credential = add_credential(cast.team, emulator.volcengine_url, secret="wrong")
    client = cast.client("owner", HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = client.post(
        reverse("credential-test", args=["team-a", credential.pk]), follow=True
    ).content.decode()
    assert "签名错误" in page


def test_secrets_stay_out_of_logs_and_error_pages(cast, emulator, caplog, settings) -> None:
    caplog.set_level(logging.DEBUG)
    client = cast.client("owner")
    _create(client, endpoint=emulator.volcengine_url)
    credential = Credential.objects.get(label="Prod")
    client.post(reverse("credential-test", args=["team-a", credential.pk]))
    settings.DEBUG = True  # the technical error page shows local variables
    client.raise_request_exception = False
    with mock.patch.object(transport, "send", autospec=True, side_effect=RuntimeError("boom")):
        page = client.post(reverse("credential-test", args=["team-a", credential.pk]))
    assert page.status_code == 500 and b"boom" in page.content
    failing_form = client.post(
        reverse("credential-create", args=["team-a"]),
        {"kind": "volcengine", "label": "x" * 100, "access_key": AK, "secret": SK},
    )
    texts = [caplog.text, page.content.decode(), failing_form.content.decode()]
    for text in texts:
        assert SK not in text and AK not in text
