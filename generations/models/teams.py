"""Teams and their people: roles, memberships, invitations."""

from __future__ import annotations

import hmac
import secrets
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generations import crypto
from generations.models.ledger import Usage, month_start

# --- teams and people ---------------------------------------------------------------


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")
    VIEWER = "viewer", _("Viewer")


ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Team(models.Model):
    name = models.CharField(_("name"), max_length=80)
    slug = models.SlugField(_("slug"), max_length=40, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    quota_cny = models.DecimalField(
        _("monthly quota (CNY)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Empty means unlimited."),
    )
    quota_seconds = models.PositiveIntegerField(
        _("monthly quota (video seconds)"),
        null=True,
        blank=True,
        help_text=_("Empty means unlimited."),
    )
    suspended_at = models.DateTimeField(_("suspended"), null=True, blank=True)
    suspended_reason = models.CharField(_("suspension reason"), max_length=200, blank=True)
    # The dispatchers' memory for taking turns: when this team last got an upstream
    # call, and whether it was a submit (1) or a poll (0).
    dispatched_at = models.DateTimeField(null=True, blank=True, editable=False)
    dispatch_lane = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    def usage(self, period: date | None = None) -> Usage:
        return Usage.of(self, period or month_start())

    def suspend(self, reason: str) -> None:
        self.suspended_at = timezone.now()
        self.suspended_reason = reason[:200]
        self.save(update_fields=["suspended_at", "suspended_reason"])

    def unsuspend(self) -> None:
        self.suspended_at = None
        self.suspended_reason = ""
        self.save(update_fields=["suspended_at", "suspended_reason"])


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)
    # A member's own monthly limit under the team's quota, set by the team's admins;
    # none: only the team's quota applies (docs/pricing.md).
    monthly_budget_cny = models.DecimalField(
        _("monthly budget (CNY)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    notify_by_email = models.BooleanField(
        _("email me when my jobs finish"),
        default=False,
        help_text=_("Besides the bell in the studio, an email for each ready or failed job."),
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.team} · {self.role}"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> InvitationQuerySet:
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    """A single-use link that makes whoever opens it (signed in) a member with `role`."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    email = models.EmailField(_("email"), blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.team} · {self.role} · {self.state}"

    @classmethod
    def issue(
        cls, *, team: Team, role: str, created_by: Any, email: str = "", days: int = 7
    ) -> tuple[Invitation, str]:
        """Create an invitation and return it with its token, which is not stored."""
        token = secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            team=team,
            role=role,
            email=email,
            token_hash=crypto.token_digest(token),
            created_by=created_by,
            expires_at=timezone.now() + timedelta(days=days),
        )
        return invitation, token

    @classmethod
    def find(cls, token: str) -> Invitation | None:
        digest = crypto.token_digest(token)
        invitation = cls.objects.select_related("team").filter(token_hash=digest).first()
        if invitation and hmac.compare_digest(invitation.token_hash, digest):
            return invitation
        return None

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    def revoke(self) -> bool:
        return bool(
            Invitation.objects.filter(
                pk=self.pk, accepted_at__isnull=True, revoked_at__isnull=True
            ).update(revoked_at=timezone.now())
        )

    def claim(self, user: Any) -> bool:
        """Mark accepted, once: a second use (even a concurrent one) gets False."""
        return bool(
            Invitation.objects.filter(
                pk=self.pk,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=timezone.now(),
            ).update(accepted_at=timezone.now(), accepted_by=user)
        )
