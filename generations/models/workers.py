"""What workers and web processes coordinate through: leases, throttles, rate buckets."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

# --- coordination between workers ----------------------------------------------------


class WorkerLease(models.Model):
    """A named job that one worker at a time may do, for as long as it renews the lease."""

    name = models.CharField(max_length=60, primary_key=True)
    owner = models.CharField(max_length=40, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.owner or 'nobody'}"

    @classmethod
    def acquire(cls, name: str, owner: str, seconds: float) -> bool:
        now = timezone.now()
        until = now + timedelta(seconds=seconds)
        cls.objects.get_or_create(name=name, defaults={"owner": "", "expires_at": now})
        taken = cls.objects.filter(Q(expires_at__lte=now) | Q(owner=owner), name=name)
        return bool(taken.update(owner=owner, expires_at=until))

    @classmethod
    def release(cls, name: str, owner: str) -> None:
        cls.objects.filter(name=name, owner=owner).update(owner="", expires_at=timezone.now())

    @classmethod
    def is_held(cls, name: str) -> bool:
        return (
            cls.objects.filter(name=name, expires_at__gt=timezone.now()).exclude(owner="").exists()
        )


class Throttle(models.Model):
    """How many attempts one subject made in one window (generations.account_throttle)."""

    key = models.CharField(max_length=120, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class RateBucket(models.Model):
    """A token bucket in the database, for when no Redis is configured."""

    key = models.CharField(max_length=80, primary_key=True)
    tokens = models.FloatField()
    updated = models.FloatField()

    def __str__(self) -> str:
        return self.key
