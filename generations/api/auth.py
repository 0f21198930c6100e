"""Personal access tokens: `Authorization: Bearer jst_…`. A token acts for its member in
its team, with the member's role at the time of the request, within a rate per minute."""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.parser import Parser
from ninja.security import HttpBearer

from generations.access import TeamAccess
from generations.api.idempotency import idempotent as keyed
from generations.api.schema import answers
from generations.forms.values import NotJson, strict_json
from generations.models import ApiToken, Membership, Role
from generations.services.throttles import Window


class StrictJson(Parser):
    """Request bodies as JSON that can be stored: Ninja's own parser lets a lone
    surrogate ("\\ud800") through to the database, which refuses it with a 500."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return strict_json(request.body)  # type: ignore[no-any-return]


def body_refusal(error: HttpError) -> str:
    """The words for an HttpError: why the body could not be read, when that was it."""
    cause = error.__cause__
    return str(cause) if isinstance(cause, NotJson) else str(error)


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class Forbidden(Exception):
    """The token's member may not do this (a viewer writing, say)."""


@dataclass(frozen=True)
class ApiAccess:
    token: ApiToken
    access: TeamAccess

    def require(self, role: str) -> None:
        if not self.access.at_least(role):
            raise Forbidden


def rate_window() -> Window:
    return Window("api-token", settings.API_RATE_PER_MINUTE, 60)


class TokenAuth(HttpBearer):
    """The token, checked before the body is read: a viewer's write is refused with 403
    whatever it sends. `role` is the least role the operation needs."""

    def __init__(self, role: str = Role.VIEWER) -> None:
        super().__init__()
        self.role = role

    def __call__(self, request: HttpRequest) -> Any:
        # HttpBearer logs an unexpected header in DEBUG, secret and all; we never do.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiAccess | None:
        found = ApiToken.find(token)
        if found is None:
            return None
        membership = (
            Membership.objects.select_related("team")
            .filter(team=found.team, user=found.user, user__is_active=True)
            .first()
        )
        # The member left the team: the token died with it. (Also when the membership was
        # ended outside the studio, in the admin, and the person was invited again since.)
        if membership is None or membership.created_at > found.created_at:
            return None
        # Counted first, then compared: concurrent requests cannot all slip under it.
        window = rate_window()
        window.hit(str(found.pk))
        if window.count(str(found.pk)) > window.limit:
            raise RateLimited(window.retry_after())
        found.touch()
        access = ApiAccess(found, TeamAccess(membership.team, membership))
        access.require(self.role)
        return access


def api_access(request: HttpRequest) -> ApiAccess:
    access = request.auth  # type: ignore[attr-defined]
    assert isinstance(access, ApiAccess)
    return access


VIEWER, MEMBER = Role.VIEWER, Role.MEMBER
ROLE_EXTENSION = "x-required-role"
IDEMPOTENT_EXTENSION = "x-idempotent"


def operation(
    api: NinjaAPI, method: str, path: str, *, role: str, idempotent: bool = False, **options: Any
) -> Any:
    """Declare an operation with the least role it needs: enforced by its auth, and
    written into the OpenAPI schema (`x-required-role`), where the access tests read it.
    `idempotent`: a write that can cost money, which honours `Idempotency-Key`. Every
    answer it may give goes into the schema (`schema.answers`)."""

    def declare(view: Any) -> Any:
        hints = typing.get_type_hints(view)
        takes_input = any(name != "request" for name in inspect.signature(view).parameters)
        response = answers(
            options.pop("response", hints.get("return", Any)),
            writes=role != Role.VIEWER,
            has_path_id="{" in path,
            takes_input=takes_input,
        )
        register = api.api_operation(
            [method],
            path,
            auth=TokenAuth(role),
            response=response,
            openapi_extra={ROLE_EXTENSION: role, IDEMPOTENT_EXTENSION: idempotent},
            **options,
        )
        return register(keyed(view) if idempotent else view)

    return declare
