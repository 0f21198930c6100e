"""Every URL × every role, generated from the URLconf.

Each view declares who may open it (`required_role`, and `post_role` for forms) through
the access helpers. A URL whose view declares nothing fails here, so a new page cannot
ship without a rule. For each team URL: anonymous visitors are sent to sign in, an
outsider gets 404, a role that is too low gets 403, and members of the team never reach
another team's objects (404).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from generations.models import (
    ROLE_RANK,
    Role,
)
from tests.cast import ROLES
from tests.web.routes import ALL, World, team_objects, url_of


@pytest.fixture
def world(cast) -> World:  # type: ignore[no-untyped-def]
    return World(cast, team_objects(cast.team), team_objects(cast.other_team))


def test_every_url_declares_who_may_open_it() -> None:
    undeclared = [name for name, _, view in ALL if not hasattr(view, "required_role")]
    assert not undeclared, f"views without an access rule: {undeclared}"
    assert len(ALL) > 35


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
    url = url_of(route, {**world.objects, "token_id": own_token})
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
    url = url_of(route, values)
    client = world.cast.client("owner")
    for method in ("get", "post"):
        status = _call(client, url, method)
        assert status in (404, 405), f"{method.upper()} {url} → {status}"
