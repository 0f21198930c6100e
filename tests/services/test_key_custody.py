"""Pulling a stored key out: moving a key needs its secret again, the admin saves keys
through the team's form, fingerprints are keyed with the server's secret."""

from __future__ import annotations

import hashlib
import importlib

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from generations import crypto
from generations.admin import CredentialAdminForm
from generations.forms.keys import CredentialForm
from generations.models import (
    Credential,
    CredentialKind,
    credential_fingerprint,
)
from tests.cast import add_credential, make_user
from tests.conftest import SANDBOX_AK, SANDBOX_SK

pytestmark = pytest.mark.security


@pytest.mark.django_db
def test_moving_a_key_needs_its_secret_again(cast) -> None:
    credential = add_credential(cast.team, "https://visual.volcengineapi.com")
    form = {"label": "Main key", "access_key": "", "secret": "", "max_qps": ""}
    url = reverse("credential-edit", args=["team-a", credential.pk])
    moved = cast.client("admin").post(
        url, {**form, "endpoint": "https://ark.cn-beijing.volces.com"}
    )
    assert moved.status_code == 200 and "enter the key again" in moved.content.decode()
    credential.refresh_from_db()
    assert credential.endpoint == "https://visual.volcengineapi.com"
    renamed = cast.client("admin").post(url, {**form, "endpoint": credential.endpoint})
    assert renamed.status_code == 302  # the same address keeps the saved key


@pytest.mark.django_db
def test_the_admin_saves_keys_through_the_team_form(cast) -> None:
    assert issubclass(CredentialAdminForm, CredentialForm)
    credential = add_credential(cast.team, "https://visual.volcengineapi.com")
    operator = Client()
    operator.force_login(make_user("operator", is_staff=True, is_superuser=True))
    url = reverse("admin:generations_credential_change", args=[credential.pk])
    fields = {"team": cast.team.pk, "label": "Main key", "max_qps": "", "access_key": ""}
    moved = {**fields, "kind": "gateway", "endpoint": "https://ark.cn-beijing.volces.com"}
    assert operator.post(url, {**moved, "secret": ""}).status_code == 200  # refused
    credential.refresh_from_db()
    assert credential.kind == CredentialKind.VOLCENGINE
    operator.post(url, {**moved, "secret": "new-bearer-key"})
    credential.refresh_from_db()
    assert credential.kind == CredentialKind.GATEWAY
    assert credential.fingerprint == credential_fingerprint(
        kind="gateway", endpoint="https://ark.cn-beijing.volces.com", key="new-bearer-key"
    )


@pytest.mark.django_db
def test_fingerprints_are_keyed_with_the_server_secret(cast, settings) -> None:
    credential = add_credential(cast.team, "https://visual.volcengineapi.com")
    bare = hashlib.sha256(f"{credential.endpoint}\n{SANDBOX_AK}".encode()).hexdigest()
    assert credential.fingerprint != bare
    settings.SECRET_KEY = "another-" + "x" * 50
    again = credential_fingerprint(
        kind=credential.kind, endpoint=credential.endpoint, key=SANDBOX_AK
    )
    assert again != credential.fingerprint
    # The migration rekeys rows saved with a bare sha256.
    Credential.objects.filter(pk=credential.pk).update(fingerprint=bare)
    rekeying = importlib.import_module("generations.migrations.0007_keyed_credential_fingerprints")
    rekeying.rekey(apps, None)
    credential.refresh_from_db()
    assert credential.fingerprint == again
    assert crypto.decrypt(credential.secret_encrypted) == SANDBOX_SK
