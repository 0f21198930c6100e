"""The cast every access test uses: owner, admin, member and viewer of team A, and an
outsider who belongs to team B."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from generations.models import Credential, CredentialKind, Membership, Role, Team
from tests.conftest import SANDBOX_AK, SANDBOX_ARK_KEY, SANDBOX_SK
from tests.pipeline import FAST_PIPELINE

PASSWORD = "a-long-test-password-42"
ROLES = ("owner", "admin", "member", "viewer", "outsider")


@dataclass
class Cast:
    team: Team
    other_team: Team
    users: dict[str, Any]

    def __getattr__(self, role: str) -> Any:
        try:
            return self.__dict__["users"][role]
        except KeyError:
            raise AttributeError(role) from None

    def client(self, role: str, **headers: str) -> Client:
        client = Client(**headers)
        client.force_login(self.users[role])
        return client


def make_user(username: str, **extra: Any) -> Any:
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD, **extra
    )


def add_credential(
    team: Team,
    endpoint: str = "http://127.0.0.1:9/sandbox/volcengine/",
    *,
    access_key: str = SANDBOX_AK,
    secret: str = SANDBOX_SK,
    default: bool = True,
    kind: str = CredentialKind.VOLCENGINE,
    label: str = "Main key",
) -> Credential:
    credential = Credential(
        team=team, kind=kind, label=label, endpoint=endpoint, is_default=default
    )
    credential.set_secrets(access_key=access_key, secret=secret)
    credential.save()
    return credential


@pytest.fixture
def cast(db) -> Cast:  # type: ignore[no-untyped-def]
    team = Team.objects.create(name="Team A", slug="team-a", quota_cny=Decimal("100.00"))
    other = Team.objects.create(name="Team B", slug="team-b", quota_cny=Decimal("100.00"))
    users = {role: make_user(role) for role in ROLES}
    for role in ("owner", "admin", "member", "viewer"):
        Membership.objects.create(team=team, user=users[role], role=Role(role))
    Membership.objects.create(team=other, user=users["outsider"], role=Role.OWNER)
    return Cast(team, other, users)


@pytest.fixture
def keyed(cast: Cast) -> Cast:
    """The cast, with team A holding an upstream key so that it can generate."""
    add_credential(cast.team)
    return cast


def post_generate(
    client: Any, team: str = "team-a", *, headers: dict[str, str] | None = None, **fields: Any
) -> Any:
    """Submit the generate form: a valid text-to-video job, changed by `fields`."""
    from django.urls import reverse

    data = {
        "mode": "t2v_720p",
        "prompt": "a kite",
        "duration": "5",
        "aspect_ratio": "16:9",
        "seed": "-1",
        **fields,
    }
    return client.post(reverse("studio", args=[team]), data, headers=headers)


@pytest.fixture
def ark(cast: Cast, emulator: Any, settings: Any) -> Cast:
    """Team A with an Ark key on the emulator (and its Volcengine key), fast settings."""
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    settings.SUBMIT_CHECK_SECONDS = 0.3
    add_credential(cast.team, emulator.volcengine_url)
    add_credential(
        cast.team,
        emulator.ark_url,
        access_key="",
        secret=SANDBOX_ARK_KEY,
        kind="ark",
        default=False,
        label="Ark",
    )
    return cast
