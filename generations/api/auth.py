"""Personal access tokens: `Authorization: Bearer jst_…`. A token acts for its member in
its team, with the member's role at the time of the request, within a rate per minute."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.security import HttpBearer

from generations.access import TeamAccess
from generations.account_throttle import Window
from generations.models import ApiToken, Membership, Role


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
        if membership is None:  # the member left the team: the token died with it
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


def operation(api: NinjaAPI, method: str, path: str, *, role: str, **options: Any) -> Any:
    """Declare an operation with the least role it needs: enforced by its auth, and
    written into the OpenAPI schema (`x-required-role`), where the access tests read it."""
    return api.api_operation(
        [method],
        path,
        auth=TokenAuth(role),
        openapi_extra={ROLE_EXTENSION: role},
        **options,
    )
