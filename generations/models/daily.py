"""Daily-use features: prompt templates, notifications."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generations.models.jobs import Generation
from generations.models.teams import Team


class PromptTemplate(models.Model):
    """A prompt the team keeps to start from, with the mode it was written for."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="prompt_templates")
    name = models.CharField(_("name"), max_length=80)
    prompt = models.TextField(_("prompt"), max_length=2000)
    mode = models.CharField(_("mode"), max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("prompt template")
        verbose_name_plural = _("prompt templates")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_template_name")]

    def __str__(self) -> str:
        return self.name


class NotificationKind(models.TextChoices):
    JOB_READY = "job.ready", _("Video ready")
    JOB_FAILED = "job.failed", _("Job failed")


class Notification(models.Model):
    """What the bell shows a member: their job finished, one way or the other."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    generation = models.ForeignKey(
        Generation, on_delete=models.CASCADE, null=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)  # its email went out

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "user", "kind"], name="one_notification_per_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.generation_id} → {self.user_id}"
