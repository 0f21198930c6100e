"""What every page needs: the signed-in user's teams, which one is current, and how
many notifications they have not read."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from generations.access import CURRENT_TEAM
from generations.models import Membership
from generations.services import notifications


def studio(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = list(
        Membership.objects.filter(user=user).select_related("team").order_by("team__name")
    )
    match = getattr(request, "resolver_match", None)
    slug = (match.kwargs.get("slug") if match else None) or request.session.get(CURRENT_TEAM)
    current = next((m for m in memberships if m.team.slug == slug), None)
    return {
        "unread_notifications": notifications.unread(user.pk),
        "my_memberships": memberships,
        "current_membership": current,
        "current_team": current.team if current else None,
    }
