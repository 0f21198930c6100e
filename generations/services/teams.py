"""Teams and roles: create a team, change a role, remove a member, leave.

The last owner is protected: the owners' rows are locked while counting them, so two
demotions at once cannot both pass.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from generations.errors import Refused
from generations.models import ApiToken, Membership, Role, Team


def _unique_slug(name: str) -> str:
    base = slugify(name)[:30] or "team"
    slug = base
    while Team.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def create_team(*, name: str, owner: Any) -> Team:
    with transaction.atomic():
        team = Team.objects.create(
            name=name,
            slug=_unique_slug(name),
            quota_cny=settings.DEFAULT_TEAM_QUOTA_CNY,
            quota_seconds=settings.DEFAULT_TEAM_QUOTA_SECONDS,
        )
        Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    return team


def may_manage(actor: Membership, target_role: str, new_role: str | None = None) -> None:
    if actor.role not in (Role.OWNER, Role.ADMIN):
        raise Refused(_("Only owners and admins manage the team."))
    touches_owner = Role.OWNER in (target_role, new_role)
    if touches_owner and actor.role != Role.OWNER:
        raise Refused(_("Only an owner can make or change an owner."))


def _lock_owners(team: Team) -> int:
    """Count owners while holding their rows, so two demotions cannot both pass."""
    owners = Membership.objects.select_for_update().filter(team=team, role=Role.OWNER)
    return len(list(owners))


@transaction.atomic
def change_role(*, actor: Membership, member: Membership, role: str) -> None:
    may_manage(actor, member.role, role)
    member = Membership.objects.select_for_update().get(pk=member.pk)
    if member.role == Role.OWNER and role != Role.OWNER and _lock_owners(member.team) <= 1:
        raise Refused(_("The last owner cannot be demoted. Make someone else an owner first."))
    member.role = role
    member.save(update_fields=["role"])


@transaction.atomic
def remove_member(*, actor: Membership, member: Membership) -> None:
    if actor.pk == member.pk:
        leave_team(member=member)
        return
    may_manage(actor, member.role)
    member = Membership.objects.select_for_update().get(pk=member.pk)
    if member.role == Role.OWNER and _lock_owners(member.team) <= 1:
        raise Refused(_("The last owner cannot be removed."))
    _end_membership(member)


@transaction.atomic
def leave_team(*, member: Membership) -> None:
    member = Membership.objects.select_for_update().get(pk=member.pk)
    if member.role == Role.OWNER and _lock_owners(member.team) <= 1:
        raise Refused(_("You are the last owner: make someone else an owner before you leave."))
    _end_membership(member)


def _end_membership(member: Membership) -> None:
    """The member's API tokens for the team die with the membership: re-invited later,
    they start again with new tokens, not with scripts holding the old ones."""
    ApiToken.objects.filter(team_id=member.team_id, user_id=member.user_id).live().update(
        revoked_at=timezone.now()
    )
    member.delete()
