"""Videos made of other videos: a chain of extensions joined into one MP4 (and, later, a
storyboard's film). The file is derived: it can always be built again from its parts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generations.models.jobs import Generation
from generations.models.teams import Team


def parts_key(generation_ids: Sequence[int]) -> str:
    """One key for one ordered list of parts (the same parts in another order differ)."""
    return hashlib.sha256(",".join(str(pk) for pk in generation_ids).encode()).hexdigest()


def joined_path(joined: JoinedVideo, filename: str = "") -> str:
    return f"joined/{joined.team_id}/{joined.key[:24]}.mp4"


class JoinState(models.TextChoices):
    BUILDING = "building", _("Joining")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class JoinedVideo(models.Model):
    """Ready videos of one team, in order, as one MP4 (docs/joining.md)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="joined_videos")
    key = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=JoinState.choices, default=JoinState.BUILDING)
    file = models.FileField(upload_to=joined_path, blank=True, max_length=200)
    size_bytes = models.BigIntegerField(default=0)
    duration_seconds = models.FloatField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    # Encoded again because the parts differed (and how), or copied as they were.
    reencoded = models.BooleanField(default=False)
    why_reencoded = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("joined video")
        verbose_name_plural = _("joined videos")
        constraints = [
            models.UniqueConstraint(fields=["team", "key"], name="one_joined_video_per_parts")
        ]

    def __str__(self) -> str:
        return f"{self.team_id}/{self.key[:12]}"

    def part_ids(self) -> list[int]:
        return list(self.parts.order_by("position").values_list("generation_id", flat=True))


class JoinedPart(models.Model):
    joined = models.ForeignKey(JoinedVideo, on_delete=models.CASCADE, related_name="parts")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["joined", "position"], name="one_part_per_position")
        ]

    def __str__(self) -> str:
        return f"{self.joined_id}#{self.position}"
