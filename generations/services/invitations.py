"""Invitation links: issue one (owners and admins), mail it, accept it once."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from generations.errors import Refused
from generations.models import Invitation, Membership, Role
from generations.services.teams import may_manage


def invite(*, actor: Membership, role: str, email: str = "") -> tuple[Invitation, str]:
    may_manage(actor, Role.VIEWER, role)
    return Invitation.issue(
        team=actor.team,
        role=role,
        created_by=actor.user,
        email=email,
        days=settings.INVITATION_DAYS,
    )


def accept_invitation(*, invitation: Invitation, user: Any) -> Membership:
    """Join the team with the invitation's role. The link works once, until it expires."""
    if invitation.state != "pending":
        raise Refused(invitation_problem(invitation.state))
    existing = Membership.objects.filter(team=invitation.team, user=user).first()
    if existing:
        raise Refused(_("You are already a member of %(team)s.") % {"team": invitation.team.name})
    with transaction.atomic():
        if not invitation.claim(user):
            raise Refused(_("This invitation has already been used."))
        try:
            return Membership.objects.create(team=invitation.team, user=user, role=invitation.role)
        except IntegrityError:
            raise Refused(
                _("You are already a member of %(team)s.") % {"team": invitation.team.name}
            ) from None


def send_invitation(*, invitation: Invitation, url: str) -> None:
    subject = _("You are invited to %(team)s on Jimeng Studio") % {"team": invitation.team.name}
    body = _(
        "%(inviter)s invited you to join %(team)s as %(role)s.\n\nOpen this link to accept "
        "(it works once, until %(expires)s):\n%(url)s\n"
    ) % {
        "inviter": invitation.created_by.get_username() if invitation.created_by else "",
        "team": invitation.team.name,
        "role": Role(invitation.role).label,
        "expires": timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d %H:%M"),
        "url": url,
    }
    send_mail(subject, body, None, [invitation.email], fail_silently=True)


def invitation_problem(state: str) -> str:
    return {
        "accepted": _("This invitation has already been used."),
        "revoked": _("This invitation was revoked."),
        "expired": _("This invitation has expired. Ask for a new one."),
    }.get(state, _("This invitation cannot be used."))
