"""Every API operation × every role, generated from the APIs' own schemas.

Each operation declares the least role it needs (`x-required-role`, set by
`generations.api.auth.operation`, which also enforces it). An operation without one fails
here, so a new endpoint cannot ship without a rule. For each: no token or a dead one gets
401, a role that is too low 403, another team's token 404 for this team's objects, and
every answer is JSON (never an HTML error page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generations.api import openai, v1
from generations.models import ROLE_RANK, ApiToken, Membership, Role, ShareLink
from tests import images
from tests.api_client import T2V, Api, token_for
from tests.cast import ROLES, add_credential
from tests.pipeline import make_job, mark_ready

APIS = ((v1.api, "/api/v1"), (openai.api, "/v1"))


def _operations() -> list[tuple[str, str, str | None]]:
    found = []
    for api, prefix in APIS:
        schema = api.get_openapi_schema(path_prefix=prefix)
        for path, methods in schema["paths"].items():
            for method, operation in methods.items():
                found.append((method.upper(), path, operation.get("x-required-role")))
    return found


OPERATIONS = _operations()

# A body each write sends, so that an allowed call reaches the real work.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/generations"): T2V,
    ("POST", "/api/v1/generations/upload"): "multipart",
    ("POST", "/api/v1/generations/{generation_id}/cancel"): None,
    ("POST", "/api/v1/generations/{generation_id}/retry"): None,
    ("POST", "/api/v1/generations/{generation_id}/regenerate"): None,
    ("POST", "/api/v1/generations/{generation_id}/extend"): {},
    ("POST", "/api/v1/generations/{generation_id}/final"): None,
    ("POST", "/api/v1/shares"): "share",
    ("POST", "/v1/video/generations"): {"model": "jimeng-1.0", "prompt": "a kite"},
    ("POST", "/v1/videos"): {"model": "jimeng-1.0", "prompt": "a kite"},
}


def test_every_operation_declares_who_may_call_it() -> None:
    undeclared = [f"{m} {p}" for m, p, role in OPERATIONS if role not in Role.values]
    assert not undeclared, f"operations without a role: {undeclared}"
    writes = [(m, p) for m, p, _ in OPERATIONS if m in ("POST", "PUT", "PATCH")]
    assert not [w for w in writes if w not in BODIES], "give each write a body in BODIES"
    assert len(OPERATIONS) >= 20


@dataclass
class World:
    cast: Any
    values: dict[str, str]  # path parameter → an object of team A
    foreign: dict[str, str]  # the same kinds of object in team B


def _objects(cast: Any, team: Any) -> dict[str, str]:
    add_credential(team)
    job = mark_ready(make_job(team, "i2v_first_720p"))
    maker = Membership.objects.filter(team=team, role=Role.MEMBER).first()
    link = ShareLink.new(team=team, created_by=maker.user if maker else None)
    link.save()
    link.items.create(generation=job)
    return {"generation_id": str(job.pk), "task_id": str(job.pk), "link_id": str(link.pk)}


@pytest.fixture
def world(cast) -> World:  # type: ignore[no-untyped-def]
    return World(cast, _objects(cast, cast.team), _objects(cast, cast.other_team))


def _call(api: Api, method: str, path: str, values: dict[str, str]) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    body = BODIES.get((method, path))
    if body == "multipart":
        fields = {**T2V, "first_image": SimpleUploadedFile("a.png", images.solid(64, 36))}
        fields["mode"] = "i2v_first_720p"
        return api.client.post(url, fields, headers=api.headers)
    if body == "share":
        body = {"generations": [int(values["generation_id"])]}
    return api.call(method, url, body)


def _token(world: World, role: str) -> str | None:
    if role == "anonymous":
        return None
    if role == "revoked":
        token, plain = ApiToken.issue(team=world.cast.team, user=world.cast.owner, name="old")
        token.revoke()
        return plain
    return token_for(world.cast, role)


def _expected(required: str, role: str, has_object: bool) -> set[int] | None:
    """The statuses this caller must get, or None for 'allowed'."""
    if role in ("anonymous", "revoked"):
        return {401}
    if role == "outsider":
        # Team B's owner, acting in team B: this team's objects do not exist there.
        return {404} if has_object else None
    return {403} if ROLE_RANK[Role(role)] < ROLE_RANK[Role(required)] else None


CALLERS = ("anonymous", "revoked", *ROLES)
CASES = [(m, p, r, who) for m, p, r in OPERATIONS for who in CALLERS]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "required", "role"),
    CASES,
    ids=[f"{m}-{p}-{who}" for m, p, _, who in CASES],
)
def test_access(world: World, method: str, path: str, required: str, role: str) -> None:
    answer = _call(Api(_token(world, role)), method, path, world.values)
    expected = _expected(required, role, "{" in path)
    where = f"{role} {method} {path} → {answer.status_code}: {answer.content[:200]!r}"
    if expected is None:
        assert answer.status_code not in (401, 403, 404, 405, 500), where
    else:
        assert answer.status_code in expected, where
    if answer.status_code != 302:
        assert answer["Content-Type"].startswith("application/json"), where


OBJECT_OPERATIONS = [(m, p) for m, p, _ in OPERATIONS if "{" in p]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"), OBJECT_OPERATIONS, ids=[p for _, p in OBJECT_OPERATIONS]
)
def test_another_teams_objects_are_404(world: World, method: str, path: str) -> None:
    """Team A's owner, naming team B's objects, finds nothing and changes nothing."""
    answer = _call(Api(token_for(world.cast, "owner")), method, path, world.foreign)
    assert answer.status_code == 404, f"{method} {path} → {answer.status_code}"
