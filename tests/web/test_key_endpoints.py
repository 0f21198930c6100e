"""Where a team's keys may be sent (docs/security.md): the key form refuses internal
addresses and paths out of the emulator's, and Test connection never reaches one."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from generations.models import (
    Credential,
)
from tests.addresses import SECRET, connection_test_page
from tests.cast import add_credential
from tests.local_http import SECRET_BODY, local_server

pytestmark = pytest.mark.security


def _create_key(client: Client, endpoint: str) -> object:
    return client.post(
        reverse("credential-create", args=["team-a"]),
        {
            "kind": "volcengine",
            "label": "Probe",
            "endpoint": endpoint,
            "access_key": "AKLTattacker",
            "secret": "attacker-secret",
            "max_qps": "",
        },
    )


ESCAPES = (
    "/sandbox/../../healthz#",
    "/sandbox/../admin/",
    "/sandbox/../api/v1",
    "/sandbox/%2e%2e/admin/",
    "/sandbox/.%2E/api/v1/",
    "/sandbox/%252e%252e/admin/",
    "/sandbox/..%5cadmin/",
    "/sandbox/volcengine/./../../admin/",
)


@pytest.mark.django_db
def test_a_key_cannot_point_at_an_internal_address(cast) -> None:
    with local_server() as internal:
        response = _create_key(cast.client("admin"), f"{internal.url}/")
        assert response.status_code == 200
        assert "official API hosts" in response.content.decode()
        assert not Credential.objects.exists() and internal.hits == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ESCAPES)
def test_a_key_cannot_leave_the_emulators_paths_by_dot_segments(cast, settings, path) -> None:
    """The form checked that the literal path starts with the emulator's prefix, and the
    HTTP client resolved the dots: Test connection then called any path on that host
    with the team's stored key and echoed part of the answer."""
    with local_server() as emulator_host:
        settings.SANDBOX_URL = f"{emulator_host.url}/sandbox/"
        response = _create_key(cast.client("admin"), f"{emulator_host.url}{path}")
        assert response.status_code == 200 and not Credential.objects.exists()
        assert "path segments" in response.content.decode() or "without ? or #" in (
            response.content.decode()
        )
        # A key stored before the rule is refused when it is used.
        credential = add_credential(cast.team, f"{emulator_host.url}{path}")
        page = connection_test_page(cast, credential)
        assert emulator_host.hits == [] and SECRET_BODY.decode() not in page


@pytest.mark.django_db
def test_test_connection_never_calls_an_internal_address(cast) -> None:
    """A key saved before the rules (or under a wider allow-list) is refused when used."""
    with local_server() as internal:
        credential = add_credential(cast.team, f"{internal.url}/")
        page = connection_test_page(cast, credential)
    assert internal.hits == []
    assert SECRET not in page and "may not be used" in page


@pytest.mark.django_db
def test_an_allowed_host_resolving_to_loopback_is_refused_when_connecting(cast, settings) -> None:
    """DNS rebinding: the name passes the host rules, its address does not."""
    settings.UPSTREAM_ALLOWED_HOSTS = ["localhost"]
    with local_server() as internal:
        endpoint = f"http://localhost:{internal.port}/"
        assert _create_key(cast.client("admin"), endpoint).status_code == 302  # host allowed
        page = connection_test_page(cast, Credential.objects.get())
    assert internal.hits == []
    assert SECRET not in page and "resolves to a loopback or private address" in page
