"""The one way a view reaches a team: signed in, a member (else 404), with enough rank
(else 403).

`team_view(Role.MEMBER)` wraps a view taking `(request, access, ...)`. The role a view
needs is kept on the view (`required_role`) so the access-matrix test can read it for
every URL and fail when a new URL has no rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from generations.models import ROLE_RANK, Membership, Role, ShareLink, Team

CURRENT_TEAM = "current_team"


def signed_in_user(request: HttpRequest) -> User:
    """The user of a view behind login_required."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


@dataclass(frozen=True)
class TeamAccess:
    team: Team
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]

    @property
    def can_generate(self) -> bool:
        return self.at_least(Role.MEMBER)

    @property
    def can_manage(self) -> bool:
        return self.at_least(Role.ADMIN)

    @property
    def can_share(self) -> bool:
        """Viewers only look: publishing a link is for members and up."""
        return self.at_least(Role.MEMBER)

    def can_revoke(self, link: ShareLink) -> bool:
        """Members revoke the links they made; admins and owners any link."""
        return self.can_manage or (self.can_share and link.created_by_id == self.membership.user_id)


def team_access(request: HttpRequest, slug: str, required: str = Role.VIEWER) -> TeamAccess:
    user = signed_in_user(request)
    membership = (
        Membership.objects.select_related("team").filter(team__slug=slug, user=user).first()
    )
    if membership is None:
        raise Http404("No such team")
    access = TeamAccess(membership.team, membership)
    if not access.at_least(required):
        raise PermissionDenied
    if request.session.get(CURRENT_TEAM) != slug:  # a write per page view otherwise
        request.session[CURRENT_TEAM] = slug
    return access


View = Callable[..., HttpResponseBase]


def team_view(required: str = Role.VIEWER, *, post: str | None = None) -> Callable[[View], View]:
    """`required` to open the view; `post`, when given, to send it a form."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
            needed = post if post and request.method == "POST" else required
            return view(request, team_access(request, slug, needed), *args, **kwargs)

        wrapper.required_role = required  # type: ignore[attr-defined]
        wrapper.post_role = post or required  # type: ignore[attr-defined]
        return wrapper

    return decorate


def public_view(view: View) -> View:
    """Marks a view anyone may open (share pages, health checks, sign-in)."""
    view.required_role = None  # type: ignore[attr-defined]
    return view


def signed_in_view(view: View) -> View:
    """Marks a view any signed-in user may open; it is not about one team."""
    wrapped = login_required(view)
    wrapped.required_role = "signed_in"  # type: ignore[attr-defined]
    return wrapped
