"""Prompts to start from: each member's recent ones (from their jobs) and the team's
saved templates."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from generations.errors import Refused
from generations.models import Generation, Membership, PromptTemplate, Role, Team

HISTORY = 15
NAME_LENGTH = 80


def history(team: Team, user_id: int, limit: int = HISTORY) -> list[str]:
    """This member's latest distinct prompts in this team, newest first."""
    rows = (
        Generation.objects.for_team(team)
        .filter(created_by_id=user_id)
        .exclude(prompt="")
        .values("prompt")
        .annotate(last=Max("created_at"))
        .order_by("-last")[:limit]
    )
    return [row["prompt"] for row in rows]


def save_template(*, team: Team, user: Any, name: str, prompt: str, mode: str) -> PromptTemplate:
    name, prompt = " ".join(name.split()), prompt.strip()
    if not name:
        raise Refused(_("Give the template a name."))
    if len(name) > NAME_LENGTH:
        raise Refused(_("A template name is at most %(n)s characters.") % {"n": NAME_LENGTH})
    if not prompt:
        raise Refused(_("Write the prompt first, then save it as a template."))
    try:
        with transaction.atomic():
            return PromptTemplate.objects.create(
                team=team, name=name, prompt=prompt[:2000], mode=mode[:80], created_by=user
            )
    except IntegrityError:
        raise Refused(
            _("The team already has a template called “%(name)s”.") % {"name": name}
        ) from None


def may_delete(template: PromptTemplate, membership: Membership) -> bool:
    """Its author, or the team's admins."""
    return template.created_by_id == membership.user_id or membership.role in (
        Role.ADMIN,
        Role.OWNER,
    )
