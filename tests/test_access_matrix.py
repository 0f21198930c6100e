"""Every URL × every role, generated from the URLconf.

Each view declares who may open it (`required_role`, and `post_role` for forms) through
the access helpers. A URL whose view declares nothing fails here, so a new page cannot
ship without a rule. For each team URL: anonymous visitors are sent to sign in, an
outsider gets 404, a role that is too low gets 403, and members of the team never reach
another team's objects (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from generations import media
from generations.models import (
    ROLE_RANK,
    ApiToken,
    Generation,
    Invitation,
    Membership,
    PromptTemplate,
    Role,
    ShareLink,
)
from generations.services import callbacks, webhooks
from tests import images
from tests.cast import ROLES, add_credential
from tests.pipeline import frame, make_job, mark_ready

# Mounted apps with their own gatekeeping, tested elsewhere: the admin (staff only,
# test_admin.py), the emulator (signatures and Bearer keys, test_emulator.py) and the
# APIs (personal access tokens, test_api_access.py).
OTHER_GATEKEEPERS = ("admin:", "sandbox:", "api-1:", "openai:")


def _patterns(
    resolvers: list[Any], prefix: str = "", namespace: str = ""
) -> list[tuple[str, str, Any]]:
    found = []
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _patterns(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((namespace + entry.name, prefix + str(entry.pattern), entry.callback))
    return found


ALL = [p for p in _patterns(get_resolver().url_patterns) if not p[0].startswith(OTHER_GATEKEEPERS)]
NAMES = [name for name, _, _ in ALL]


def test_every_url_declares_who_may_open_it() -> None:
    undeclared = [name for name, _, view in ALL if not hasattr(view, "required_role")]
    assert not undeclared, f"views without an access rule: {undeclared}"
    assert len(ALL) > 35


@dataclass
class World:
    cast: Any
    objects: dict[str, str]  # URL keyword → a value in team A
    foreign: dict[str, str]  # URL keyword → the same kind of object in team B


def _ready_job(team) -> Generation:  # type: ignore[no-untyped-def]
    return mark_ready(
        make_job(team, "i2v_first_720p", frames=[frame(0, images.solid(800, 600))]),
        video=b"\0" * 64,
    )


def _objects(team) -> dict[str, str]:  # type: ignore[no-untyped-def]
    add_credential(team, default=not team.credentials.filter(is_default=True).exists())
    job = _ready_job(team)
    invitation, token = Invitation.issue(team=team, role=Role.MEMBER, created_by=None)
    # Made by the team's member: members may revoke their own links (test_hardening.py
    # covers another member's link).
    maker = Membership.objects.filter(team=team, role=Role.MEMBER).first()
    link = ShareLink.new(team=team, created_by=maker.user if maker else None)
    link.save()
    link.items.create(generation=job)
    # Also the member's: members may remove their own templates (test_prompts.py: others').
    template = PromptTemplate.objects.create(
        team=team, name="matrix", prompt="p", created_by=maker.user if maker else None
    )
    callback = callbacks.new_token() or "callback-token-for-the-matrix"
    Generation.objects.filter(pk=job.pk).update(callback_token_hash=callbacks.token_hash(callback))
    membership = Membership.objects.filter(team=team).order_by("pk").last()
    hook, _secret = webhooks.add(team=team, url="https://hooks.example.com/", events=[], user=None)
    delivery = webhooks.ping(hook)
    # Each member's own token: whose tokens one may revoke is test_api_settings.py's.
    tokens = {
        f"token_id:{m.user.username}": str(
            ApiToken.issue(team=team, user=m.user, name="matrix")[0].pk
        )
        for m in Membership.objects.filter(team=team).select_related("user")
    }
    owner = Membership.objects.filter(team=team, role=Role.OWNER).first()
    return {
        **tokens,
        "token_id": tokens[f"token_id:{owner.user.username}"],
        "webhook_id": str(hook.pk),
        "delivery_id": str(delivery.pk),
        "slug": team.slug,
        "generation_id": str(job.pk),
        "member_id": str(membership.pk),
        "invitation_id": str(invitation.pk),
        "credential_id": str(team.credentials.first().pk),
        "link_id": str(link.pk),
        "template_id": str(template.pk),
        "token": token,
        "key": link.key,
        "kind": "video",
        "uidb64": "MQ",
        "media_token": media.signed_url(job.poster.name).split("/")[2],
        "callback": callback,
    }


@pytest.fixture
def world(cast) -> World:  # type: ignore[no-untyped-def]
    return World(cast, _objects(cast.team), _objects(cast.other_team))


def _url(route: str, values: dict[str, str]) -> str:
    import re

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[-1]
        return values["media_token"] if route.startswith("m/") and name == "token" else values[name]

    return "/" + re.sub(r"<([^>]+)>", fill, route)


def _client(world: World, role: str) -> Client:
    return Client() if role == "anonymous" else world.cast.client(role)


def _call(client: Client, url: str, method: str) -> int:
    response = getattr(client, method)(url)
    return response.status_code


def _expected(required: Any, role: str) -> set[int] | None:
    """The statuses this role must get, or None for 'allowed' (anything but 403/404/500)."""
    if required is None:
        return None
    if role == "anonymous":
        return {302}
    if required == "signed_in":
        return None
    if role == "outsider":
        return {404}
    return {403} if ROLE_RANK[Role(role)] < ROLE_RANK[Role(required)] else None


CASES = [(name, route, role) for name, route, _ in ALL for role in ("anonymous", *ROLES)]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route", "role"), CASES, ids=[f"{n}-{r}" for n, _, r in CASES])
def test_access(world: World, name: str, route: str, role: str) -> None:
    view = {n: v for n, _, v in ALL}[name]
    own_token = world.objects.get(f"token_id:{role}", world.objects["token_id"])
    url = _url(route, {**world.objects, "token_id": own_token})
    client = _client(world, role)
    for method, rule in (
        ("get", view.required_role),
        ("post", getattr(view, "post_role", view.required_role)),
    ):
        status = _call(client, url, method)
        if status == 405:
            continue  # this view does not take this method
        expected = _expected(rule, role)
        if expected is None:
            assert status not in (403, 404, 500), f"{role} {method.upper()} {url} → {status}"
        else:
            assert status in expected, (
                f"{role} {method.upper()} {url} → {status}, wanted {expected}"
            )


TEAM_OBJECT_ROUTES = [(n, r) for n, r, v in ALL if "<slug:slug>" in r and r.count("<") > 1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "route"), TEAM_OBJECT_ROUTES, ids=[n for n, _ in TEAM_OBJECT_ROUTES]
)
def test_another_teams_objects_are_404(world: World, name: str, route: str) -> None:
    """The owner of team A, using team A's address with team B's object ids, finds nothing."""
    values = {**world.foreign, "slug": "team-a", "kind": "video"}
    url = _url(route, values)
    client = world.cast.client("owner")
    for method in ("get", "post"):
        status = _call(client, url, method)
        assert status in (404, 405), f"{method.upper()} {url} → {status}"
