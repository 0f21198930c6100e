"""Share links: one video or an album behind an unguessable key."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generations.models.jobs import Generation
from generations.models.teams import Team

# --- sharing ------------------------------------------------------------------------

SHARE_ID_LENGTH = 10


class ShareLink(models.Model):
    """An unguessable public link to one result or an album of several.

    The key in the URL is a public id (to find the row) followed by a 192-bit secret,
    which is compared in constant time.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    title = models.CharField(_("title"), max_length=120, blank=True)
    public_id = models.CharField(max_length=SHARE_ID_LENGTH, unique=True)
    secret = models.CharField(max_length=64)
    generations = models.ManyToManyField(
        Generation, through="ShareItem", related_name="share_links"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(_("views"), default=0)

    class Meta:
        verbose_name = _("share link")
        verbose_name_plural = _("share links")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title or self.public_id

    @classmethod
    def new(cls, **fields: Any) -> ShareLink:
        return cls(
            public_id=secrets.token_hex(SHARE_ID_LENGTH // 2),
            secret=secrets.token_urlsafe(24),  # 192 bits
            **fields,
        )

    @property
    def key(self) -> str:
        return f"{self.public_id}{self.secret}"

    @classmethod
    def find(cls, key: str) -> ShareLink | None:
        """The link with this key, live or not (`is_live` tells); None for a wrong key."""
        public_id, secret = key[:SHARE_ID_LENGTH], key[SHARE_ID_LENGTH:]
        link = cls.objects.filter(public_id=public_id).first()
        if link is None or not hmac.compare_digest(link.secret.encode(), secret.encode()):
            return None
        return link

    @property
    def is_live(self) -> bool:
        expired = self.expires_at is not None and self.expires_at <= timezone.now()
        return self.revoked_at is None and not expired

    def revoke(self) -> bool:
        return bool(
            ShareLink.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
        )

    def record_view(self) -> None:
        ShareLink.objects.filter(pk=self.pk).update(view_count=F("view_count") + 1)


class ShareItem(models.Model):
    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="items")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["link", "generation"], name="one_item_per_generation")
        ]

    def __str__(self) -> str:
        return f"{self.link_id}/{self.generation_id}"
