"""Personal access tokens, idempotency keys and outgoing webhooks."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generations import crypto
from generations.models.jobs import Generation
from generations.models.teams import Team

# --- the API: personal tokens, idempotency, outgoing webhooks --------------------------


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def live(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )


class ApiToken(models.Model):
    """A member's personal access token for one team: `jst_<public id>_<secret>`. The
    secret is kept only as a hash; the token acts with its member's current role."""

    PREFIX = "jst_"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=60)
    public_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}{self.public_id}…)"

    @classmethod
    def issue(
        cls, *, team: Team, user: Any, name: str, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token and return it with its plain text, which is not stored."""
        public_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        token = cls.objects.create(
            team=team,
            user=user,
            name=name,
            public_id=public_id,
            secret_hash=crypto.token_digest(secret),
            expires_at=expires_at,
        )
        return token, f"{cls.PREFIX}{public_id}_{secret}"

    @classmethod
    def find(cls, plain: str) -> ApiToken | None:
        """The live token with this text, or None (compared in constant time)."""
        if not plain.startswith(cls.PREFIX):
            return None
        public_id, _sep, secret = plain[len(cls.PREFIX) :].partition("_")
        token = (
            cls.objects.live().select_related("team", "user").filter(public_id=public_id).first()
        )
        if token is None or not hmac.compare_digest(token.secret_hash, crypto.token_digest(secret)):
            return None
        return token

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def revoke(self) -> bool:
        return bool(
            ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
        )

    def touch(self) -> None:
        """Note the use, at most once a minute (not a write per request)."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` a token sent with a write that costs money: the same key gets
    the same answer (api/idempotency.py)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=120)
    request_hash = models.CharField(max_length=64)
    generation = models.ForeignKey(
        Generation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The answer the first request got, given again to repeats (null while it runs).
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="one_job_per_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.token_id}:{self.key}"


class WebhookEvent(models.TextChoices):
    JOB_READY = "job.ready", _("A video is ready")
    JOB_FAILED = "job.failed", _("A job failed")
    SHARE_CREATED = "share.created", _("A share link was made")
    # Sent by "Send a test event" only: not a choice for a webhook's events.
    PING = "ping", _("Test event")


class Webhook(models.Model):
    """A team's outgoing webhook: events are POSTed to `url`, signed with the secret."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(_("URL"), max_length=500)
    secret_encrypted = models.TextField()
    events = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one webhook: its body, as signed and sent, and how sending went."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=30, choices=WebhookEvent.choices)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id} · {self.status}"
